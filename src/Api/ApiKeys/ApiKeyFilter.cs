using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Pipeline.Api.Hosting;
using Pipeline.ApiKeys;

namespace Pipeline.Api.ApiKeys;

/// <summary>
/// Requires a valid, unrevoked API key on every endpoint of the group it is set on: in the <c>x-api-key</c> header,
/// or, as Segment's clients send their write key, as the user name of HTTP Basic auth or a <c>writeKey</c> body field.
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
        var key = KeyOf(http, context.Arguments.OfType<IBodyApiKey>().FirstOrDefault()?.WriteKey);
        if (key is null)
        {
            return Unauthorized(http, "Send your API key in the x-api-key header (or, as a Segment write key, as the user name of HTTP Basic auth or the body's writeKey).");
        }
        bool valid;
        try
        {
            valid = await IsValidAsync(key, http.RequestAborted);
        }
        catch (Exception e) when (Pipeline.Faults.AwsFaults.IsServiceFailure(e, http.RequestAborted))
        {
            logger.LogError("Cannot check API keys: {Error}", e.Message);
            http.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable",
                detail: "API keys cannot be checked right now. Retry later.");
        }
        if (!valid)
        {
            return Unauthorized(http, "The API key is unknown or revoked.");
        }
        http.Items[KeyHashItem] = ApiKeyRegistry.Hash(key);
        return await next(context);
    }

    /// <summary>The hash of the request's valid API key (set once the key is checked).</summary>
    public static string KeyHash(HttpContext http) =>
        http?.Items[KeyHashItem] as string ?? throw new InvalidOperationException("The API key has not been checked for this request.");

    private static readonly object KeyHashItem = new();

    // The header first, then Basic auth's user name (the password is ignored: Segment's clients send it empty), then the body.
    private static string? KeyOf(HttpContext http, string? bodyKey)
    {
        if (http.Request.Headers[Header].ToString() is { Length: > 0 } header)
        {
            return header;
        }
        if (System.Net.Http.Headers.AuthenticationHeaderValue.TryParse(http.Request.Headers.Authorization, out var auth)
            && auth.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase) && auth.Parameter is { } encoded)
        {
            try
            {
                var decoded = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                var user = decoded.Split(':', 2)[0];
                if (user.Length > 0)
                {
                    return user;
                }
            }
            catch (FormatException)
            {
                // Not Base64: as if there were no Authorization header.
            }
        }
        return string.IsNullOrEmpty(bodyKey) ? null : bodyKey;
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
