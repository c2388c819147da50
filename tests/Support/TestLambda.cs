using System.Text.Json;
using Pipeline.Lambda;

namespace Pipeline.Tests;

/// <summary>Invokes a function's code in the test process, as the Runtime API loop would (for tests of its logic).</summary>
public static class TestLambda
{
    /// <summary>An invocation context whose deadline is <paramref name="timeout"/> away (default 30 s, the template's Timeout).</summary>
    public static LambdaContext Context(TimeSpan? timeout = null) =>
        new(Guid.NewGuid().ToString(), DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(30)), "arn:aws:lambda:us-east-1:000000000000:function:test", null);

    /// <summary>Invokes <paramref name="handler"/> with an SQS event; returns the ids it reported failed.</summary>
    public static async Task<List<string>> InvokeAsync(LambdaHandler handler, IReadOnlyList<SqsMessage> messages, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var input = JsonSerializer.SerializeToUtf8Bytes(new SqsEvent { Records = messages }, LambdaJsonContext.Default.SqsEvent);
        var output = await handler(input, Context(timeout), CancellationToken.None);
        var response = JsonSerializer.Deserialize(output, LambdaJsonContext.Default.SqsBatchResponse);
        return [.. response!.BatchItemFailures.Select(f => f.ItemIdentifier)];
    }
}
