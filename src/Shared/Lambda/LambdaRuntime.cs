using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Lambda;

/// <summary>One invocation's context, from the headers of <c>GET /invocation/next</c>.</summary>
/// <param name="RequestId">Lambda-Runtime-Aws-Request-Id.</param>
/// <param name="Deadline">Lambda-Runtime-Deadline-Ms: when Lambda stops the invocation.</param>
/// <param name="FunctionArn">Lambda-Runtime-Invoked-Function-Arn.</param>
/// <param name="TraceId">Lambda-Runtime-Trace-Id, if tracing is on.</param>
public sealed record LambdaContext(string RequestId, DateTimeOffset Deadline, string FunctionArn, string? TraceId);

/// <summary>Handles one invocation: the payload in, the response payload out. An exception is reported as the invocation's error.</summary>
public delegate Task<byte[]> LambdaHandler(byte[] payload, LambdaContext context, CancellationToken cancellationToken);

/// <summary>
/// An error as the Runtime API takes it (<c>/invocation/{id}/error</c>, <c>/init/error</c>), in the shape AWS's .NET
/// runtime writes: the exception's type, message and stack, and its inner exception as <c>cause</c> (an aggregate's as
/// <c>causes</c>), so the log and the error a caller gets hold the whole chain.
/// </summary>
/// <param name="ErrorType">The exception's type name.</param>
/// <param name="ErrorMessage">Its message.</param>
/// <param name="StackTrace">Its stack, a line each.</param>
public sealed record LambdaError(string ErrorType, string ErrorMessage, IReadOnlyList<string> StackTrace)
{
    // Inner exceptions reported, at most: a chain is rarely deeper, and the error must stay small.
    private const int MaxDepth = 8;

    /// <summary>The inner exception's error, if any.</summary>
    public LambdaError? Cause { get; init; }

    /// <summary>An aggregate exception's inner errors, if any.</summary>
    public IReadOnlyList<LambdaError>? Causes { get; init; }

    /// <summary>The error of an exception and its inner exceptions.</summary>
    public static LambdaError From(Exception exception) => From(exception, 0);

    private static LambdaError From(Exception exception, int depth)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var aggregate = exception as AggregateException;
        return new(exception.GetType().Name, exception.Message,
            [.. (exception.StackTrace ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)])
        {
            Cause = depth < MaxDepth && aggregate is null && exception.InnerException is { } inner ? From(inner, depth + 1) : null,
            Causes = depth < MaxDepth && aggregate is not null ? [.. aggregate.InnerExceptions.Select(e => From(e, depth + 1))] : null,
        };
    }
}

/// <summary>
/// A client of the Lambda Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) that runs a
/// function's invocation loop. Hand-written because Amazon.Lambda.RuntimeSupport, which does this for class-library
/// handlers, is not obtainable here, and a function built against it cannot start without Amazon.Lambda.Core
/// (docs/architecture.md, D3). The managed dotnet runtime runs a handler without <c>::</c> as
/// <c>dotnet exec &lt;Handler&gt;.dll</c>: such a program is its own runtime client, and that is what this is.
/// </summary>
public sealed class LambdaRuntime : IDisposable
{
    /// <summary>The Runtime API's version prefix.</summary>
    public const string ApiVersion = "2018-06-01";

    /// <summary>The content type of an error posted to the Runtime API (its specification's error format).</summary>
    public const string ErrorContentType = "application/vnd.aws.lambda.error+json";

    private readonly HttpClient _http;

    /// <summary>A client of the Runtime API at <paramref name="runtimeApi"/> (host:port, as <c>AWS_LAMBDA_RUNTIME_API</c> gives it).</summary>
    public LambdaRuntime(string runtimeApi)
    {
        // GET /next blocks until an invocation arrives, which may be hours: no client-side timeout.
        _http = new HttpClient { BaseAddress = new Uri($"http://{runtimeApi}/{ApiVersion}/runtime/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>
    /// The entry point of a function program: builds the handler once with <paramref name="initialize"/> (a failure there,
    /// such as a missing setting, is posted to <c>/init/error</c> and ends the process), then serves invocations until the
    /// process is stopped. An invocation that throws is posted to <c>/error</c>; the loop goes on. Returns the exit code.
    /// First it limits the GC heap to the function's memory, less <paramref name="nativeMegabytes"/> that native code
    /// (the Aggregator's DuckDB) may use, and logs the limits.
    /// </summary>
    public static async Task<int> RunAsync(Func<LambdaHandler> initialize, TextWriter? log = null, int nativeMegabytes = 0)
    {
        ArgumentNullException.ThrowIfNull(initialize);
        log ??= Console.Out;
        if (LimitHeap(nativeMegabytes) is { } limit)
        {
            await log.WriteLineAsync(FunctionLog.Line("INFO", FormattableString.Invariant(
                $"Memory: {limit.MemorySizeMegabytes} MB; GC heap hard limit {limit.HeapMegabytes} MB; {nativeMegabytes} MB left to native code"), null)).ConfigureAwait(false);
        }
        if (System.Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API") is not { Length: > 0 } runtimeApi)
        {
            await Console.Error.WriteLineAsync(
                "AWS_LAMBDA_RUNTIME_API is not set: this program is a Lambda function. Deploy it, or run it locally with `dotnet run --project src/Local`.").ConfigureAwait(false);
            return 2;
        }
        using var runtime = new LambdaRuntime(runtimeApi);
        LambdaHandler handler;
        try
        {
            handler = initialize();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await log.WriteLineAsync(FunctionLog.Line("ERROR", $"Initialization failed: {e}", null)).ConfigureAwait(false);
            await runtime.PostInitErrorAsync(LambdaError.From(e), CancellationToken.None).ConfigureAwait(false);
            return 1;
        }
        await runtime.ServeAsync(handler, log, CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// <see cref="RunAsync(Func{LambdaHandler}, TextWriter?, int)"/> for the function named <paramref name="function"/>: its log
    /// (<see cref="FunctionLog.ForThisProcess"/>) starts with the product's version and the CPUs the runtime sees, and is given to
    /// <paramref name="initialize"/>.
    /// </summary>
    public static Task<int> RunAsync(string function, Func<FunctionLog, LambdaHandler> initialize, int nativeMegabytes = 0)
    {
        ArgumentNullException.ThrowIfNull(initialize);
        return RunAsync(() =>
        {
            var log = FunctionLog.ForThisProcess(function);
            // The CPUs the runtime sees size its thread pool and GC and pace its optimizing of hot code (docs/import.md).
            log.Write("INFO", $"{function} {ProductVersion.Current} starting on {Environment.ProcessorCount} CPU(s)");
            return initialize(log);
        }, nativeMegabytes: nativeMegabytes);
    }

    /// <summary>
    /// Tells the GC how much memory the function has (<c>AWS_LAMBDA_FUNCTION_MEMORY_SIZE</c>), less what native code needs,
    /// as a heap hard limit, as AWS's .NET runtime does: the process sees the host's memory, not the function's, so without
    /// it the GC grows the heap past MemorySize and Lambda kills the process instead of the GC collecting in time.
    /// Null where the variable is not set (not on Lambda).
    /// </summary>
    public static (int MemorySizeMegabytes, int HeapMegabytes)? LimitHeap(int nativeMegabytes, Func<string, string?>? read = null)
    {
        var text = (read ?? System.Environment.GetEnvironmentVariable)("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
        if (!int.TryParse(text, CultureInfo.InvariantCulture, out var memory) || memory < 128)
        {
            return null;
        }
        // At least a quarter of the memory stays the heap's, whatever native code asks for.
        var heap = Math.Max(memory / 4, memory - nativeMegabytes);
        AppContext.SetData("GCHeapHardLimit", (ulong)heap << 20);
        GC.RefreshMemoryLimit();
        return (memory, (int)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20)); // what the GC now takes as its limit
    }

    /// <summary>Serves invocations one at a time until cancelled.</summary>
    public async Task ServeAsync(LambdaHandler handler, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(log);
        while (!cancellationToken.IsCancellationRequested)
        {
            var (payload, context) = await NextAsync(cancellationToken).ConfigureAwait(false);
            // The X-Ray SDK and AWS SDK read the trace header from here, per invocation.
            System.Environment.SetEnvironmentVariable("_X_AMZN_TRACE_ID", context.TraceId);
            byte[] response;
            try
            {
                response = await handler(payload, context, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The whole exception: type, message, stack and inner exceptions, as Lambda's own runtimes log it.
                await log.WriteLineAsync(FunctionLog.Line("ERROR", $"Invocation failed: {e}", context.RequestId)).ConfigureAwait(false);
                await PostErrorAsync(context.RequestId, LambdaError.From(e), cancellationToken).ConfigureAwait(false);
                continue;
            }
            await PostAsync($"invocation/{context.RequestId}/response", new ByteArrayContent(response), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the next invocation.</summary>
    public async Task<(byte[] Payload, LambdaContext Context)> NextAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync("invocation/next", cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var payload = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var headers = response.Headers;
        var deadline = long.Parse(Header(headers, "Lambda-Runtime-Deadline-Ms") ?? throw Missing("Lambda-Runtime-Deadline-Ms"), CultureInfo.InvariantCulture);
        return (payload, new LambdaContext(
            Header(headers, "Lambda-Runtime-Aws-Request-Id") ?? throw Missing("Lambda-Runtime-Aws-Request-Id"),
            DateTimeOffset.FromUnixTimeMilliseconds(deadline),
            Header(headers, "Lambda-Runtime-Invoked-Function-Arn") ?? "",
            Header(headers, "Lambda-Runtime-Trace-Id")));
    }

    /// <summary>Reports an invocation's error.</summary>
    public Task PostErrorAsync(string requestId, LambdaError error, CancellationToken cancellationToken) =>
        PostAsync($"invocation/{requestId}/error", ErrorContent(error), cancellationToken, error.ErrorType);

    /// <summary>Reports a failure to initialize; Lambda then ends the process and reports the error to the caller.</summary>
    public Task PostInitErrorAsync(LambdaError error, CancellationToken cancellationToken) =>
        PostAsync("init/error", ErrorContent(error), cancellationToken, $"Runtime.{error.ErrorType}");

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private async Task PostAsync(string path, HttpContent content, CancellationToken cancellationToken, string? errorType = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (errorType is not null)
        {
            request.Headers.Add("Lambda-Runtime-Function-Error-Type", errorType);
        }
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    private static ByteArrayContent ErrorContent(LambdaError error)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(error, RuntimeJsonContext.Default.LambdaError));
        content.Headers.ContentType = new MediaTypeHeaderValue(ErrorContentType);
        return content;
    }

    private static string? Header(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static InvalidDataException Missing(string header) => new($"The Runtime API sent an invocation without {header}.");
}

/// <summary>Source-generated JSON for the Runtime API's shapes.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LambdaError))]
public sealed partial class RuntimeJsonContext : JsonSerializerContext;
