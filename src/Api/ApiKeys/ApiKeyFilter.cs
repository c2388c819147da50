using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Pipeline.Api.Hosting;
using Pipeline.ApiKeys;

namespace Pipeline.Api.ApiKeys;

/// <summary>
/// Requires a valid, unrevoked <c>x-api-key</c> on every endpoint of the group it is set on.
/// Lookups are cached for <see cref="ApiKeyOptions.CacheSeconds"/>, by hash: the key itself is never kept or logged.
/// </summary>
public sealed class ApiKeyFilter(ApiKeyRegistry registry, IMemoryCache cache, IOptions<ApiKeyOptions> options, ILogger<ApiKeyFilter> logger) : IEndpointFilter
{
    /// <summary>The header that carries the key.</summary>
    public const string Header = "x-api-key";

    /// <inheritdoc />
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var key = http.Request.Headers[Header].ToString();
        if (key.Length == 0)
        {
            return Unauthorized(http, "Send your API key in the x-api-key header.");
        }
        bool valid;
        try
        {
            valid = await IsValidAsync(key, http.RequestAborted);
        }
        catch (Exception e) when (e is Amazon.Runtime.AmazonServiceException || Pipeline.Faults.AwsFaults.IsTransient(e, http.RequestAborted))
        {
            logger.LogError("Cannot check API keys: {Error}", e.Message);
            http.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable",
                detail: "API keys cannot be checked right now. Retry later.");
        }
        return valid ? await next(context) : Unauthorized(http, "The API key is unknown or revoked.");
    }

    private async Task<bool> IsValidAsync(string key, CancellationToken cancellationToken)
    {
        var hash = ApiKeyRegistry.Hash(key);
        if (cache.TryGetValue(hash, out bool cached))
        {
            return cached;
        }
        var record = await registry.FindAsync(key, cancellationToken);
        var valid = record is { IsActive: true };
        if (options.Value.CacheSeconds > 0)
        {
            cache.Set(hash, valid, TimeSpan.FromSeconds(options.Value.CacheSeconds));
        }
        return valid;
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Unauthorized(HttpContext http, string detail)
    {
        http.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{Header}\"";
        return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: detail);
    }
}
