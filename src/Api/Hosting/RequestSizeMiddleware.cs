using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;

namespace Pipeline.Api.Hosting;

/// <summary>
/// Answers 413 as a problem before reading a body whose Content-Length exceeds the endpoint's limit.
/// Kestrel enforces the same limit on bodies without Content-Length (chunked) while they are read;
/// this makes the answer the same under every server, including the test server, which has no limit of its own.
/// </summary>
public sealed class RequestSizeMiddleware(RequestDelegate next, IProblemDetailsService problems)
{
    /// <summary>Handles one request.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        var limit = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize;
        if (limit is { } max)
        {
            if (context.Request.ContentLength > max)
            {
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                await problems.WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    ProblemDetails = { Status = 413, Title = "Payload too large", Detail = $"The body may be at most {max} bytes." },
                });
                return;
            }
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            {
                feature.MaxRequestBodySize = max;
            }
        }
        await next(context);
    }
}
