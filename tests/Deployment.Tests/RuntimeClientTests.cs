using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Pipeline.Lambda;

namespace Pipeline.Deployment.Tests;

/// <summary>
/// The functions' Runtime API client on the wire: a server that speaks the Runtime API's documented protocol hands it one
/// invocation whose handler throws, and records what the client posts back.
/// </summary>
public sealed class RuntimeClientTests
{
    [Fact]
    public async Task A_failed_invocation_posts_the_whole_exception_in_lambdas_error_format_and_logs_it()
    {
        var posted = new TaskCompletionSource<(string? ContentType, string? ErrorType, string Body)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var served = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var api = builder.Build();
        api.MapGet("/2018-06-01/runtime/invocation/next", async (HttpContext http) =>
        {
            if (Interlocked.Increment(ref served) > 1)
            {
                await Task.Delay(Timeout.Infinite, http.RequestAborted); // one invocation only
            }
            http.Response.Headers["Lambda-Runtime-Aws-Request-Id"] = "req-1";
            var deadline = DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds();
            http.Response.Headers["Lambda-Runtime-Deadline-Ms"] = deadline.ToString(System.Globalization.CultureInfo.InvariantCulture);
            http.Response.Headers["Lambda-Runtime-Invoked-Function-Arn"] = "arn:aws:lambda:us-east-1:000000000000:function:f";
            await http.Response.WriteAsync("{}");
        });
        api.MapPost("/2018-06-01/runtime/invocation/{id}/error", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            posted.TrySetResult((http.Request.ContentType, http.Request.Headers["Lambda-Runtime-Function-Error-Type"].FirstOrDefault(), await reader.ReadToEndAsync()));
            return Results.Text("""{"status":"OK"}""", "application/json", statusCode: 202);
        });
        await api.StartAsync();
        using var runtime = new LambdaRuntime(new Uri(api.Urls.Single()).Authority);
        using var log = new StringWriter();
        using var stop = new CancellationTokenSource();

        var serving = runtime.ServeAsync((_, _, _) => Fail(), log, stop.Token);
        var (contentType, errorType, body) = await posted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        // The loop ends on the cancellation: thrown from the wait for the next invocation, or seen between invocations.
        Assert.True(await Record.ExceptionAsync(() => serving) is null or OperationCanceledException);

        Assert.Equal("application/vnd.aws.lambda.error+json", contentType);
        Assert.Equal("InvalidOperationException", errorType);
        var error = JsonNode.Parse(body)!;
        Assert.Equal("The batch could not be written.", error["errorMessage"]!.GetValue<string>());
        Assert.Contains(error["stackTrace"]!.AsArray(), line => line!.GetValue<string>().Contains(nameof(Fail), StringComparison.Ordinal));
        Assert.Equal("AggregateException", error["cause"]!["errorType"]!.GetValue<string>());
        Assert.Equal(["TimeoutException", "IOException"], error["cause"]!["causes"]!.AsArray().Select(c => c!["errorType"]!.GetValue<string>()));
        Assert.Equal("disk full", error["cause"]!["causes"]![1]!["errorMessage"]!.GetValue<string>());
        var line = JsonNode.Parse(log.ToString().Trim())!;
        Assert.Contains("System.IO.IOException: disk full", line["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains($"at {typeof(RuntimeClientTests).FullName}.{nameof(Fail)}", line["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private static Task<byte[]> Fail()
    {
        try
        {
            throw new AggregateException(new TimeoutException("S3 did not answer"), new IOException("disk full"));
        }
        catch (AggregateException e)
        {
            throw new InvalidOperationException("The batch could not be written.", e);
        }
    }
}
