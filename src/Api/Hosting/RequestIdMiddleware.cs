using System.Text.Json;

namespace Pipeline.Api.Hosting;

/// <summary>
/// Uses API Gateway's request id (passed by the Lambda Web Adapter in <c>x-amzn-request-context</c>) as the
/// request's TraceIdentifier when there is one, echoes it in <c>X-Request-Id</c>, and scopes the logs with it.
/// </summary>
public sealed class RequestIdMiddleware(RequestDelegate next, ILogger<RequestIdMiddleware> logger)
{
    /// <summary>Handles one request.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        if (GatewayRequestId(context.Request.Headers["x-amzn-request-context"].ToString()) is { } id)
        {
            context.TraceIdentifier = id;
        }
        context.Response.Headers["X-Request-Id"] = context.TraceIdentifier;
        using (logger.BeginScope(new Dictionary<string, object> { ["requestId"] = context.TraceIdentifier }))
        {
            await next(context);
        }
    }

    private static string? GatewayRequestId(string header)
    {
        if (header.Length is 0 or > 8192)
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(header);
            return document.RootElement.TryGetProperty("requestId", out var id) && id.ValueKind == JsonValueKind.String
                && id.GetString() is { Length: > 0 and <= 128 } value ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
