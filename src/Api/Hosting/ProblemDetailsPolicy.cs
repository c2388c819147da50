using Microsoft.AspNetCore.Diagnostics;

namespace Pipeline.Api.Hosting;

/// <summary>How errors become RFC 9457 problem details (docs/architecture.md, D13).</summary>
public static class ProblemDetailsPolicy
{
    /// <summary>A request the framework could not read (bad JSON, wrong content type, too large) keeps its 4xx status.</summary>
    public static int StatusCodeFor(Exception exception) =>
        exception is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError;

    /// <summary>Adds the request id, and for a 4xx the reason the request could not be read; a 500 never shows internals.</summary>
    public static void Customize(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        problem.Extensions["requestId"] = context.HttpContext.TraceIdentifier;
        var error = context.HttpContext.Features.Get<IExceptionHandlerFeature>()?.Error;
        if (error is BadHttpRequestException bad && bad.StatusCode < 500)
        {
            problem.Detail = bad.InnerException is System.Text.Json.JsonException json
                ? $"The body is not a valid event document: {json.Message}"
                : bad.Message;
        }
        else if (problem.Status == StatusCodes.Status500InternalServerError)
        {
            problem.Detail = "An unexpected error occurred. Quote the requestId when reporting it.";
        }
    }
}
