using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Pipeline.Lambda;

namespace Pipeline.Local.Lambda;

/// <summary>
/// One Lambda execution environment, locally: a function process started the way Lambda's dotnet bootstrap starts an
/// executable handler, with the environment Lambda gives it, and its own Runtime API
/// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) on a loopback port. It serves one invocation at a
/// time, with the function's deadline; an invocation that runs past it is reported as a timeout and the process is
/// killed, as Lambda does. A process that dies ends its invocation with an error; the environment is then spent.
/// </summary>
public sealed class ExecutionEnvironment : IAsyncDisposable
{
    private const string Prefix = "/" + LambdaRuntime.ApiVersion + "/runtime";
    private const int MaxResponseBytes = 6 * 1024 * 1024; // Lambda's synchronous response limit

    private readonly FunctionDefinition _function;
    private readonly Action<string> _output;
    private readonly Channel<Invocation> _next = Channel.CreateUnbounded<Invocation>();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _sinceStart = new();
    private WebApplication? _server;
    private Process? _process;
    private volatile Invocation? _current;
    private bool _reported;
    private volatile bool _killed;

    private ExecutionEnvironment(FunctionDefinition function, Action<string> output)
    {
        _function = function;
        _output = output;
    }

    /// <summary>From process start to its first <c>GET /next</c> (Lambda's Init Duration).</summary>
    public TimeSpan? InitDuration { get; private set; }

    /// <summary>The function process's id.</summary>
    public int ProcessId => _process?.Id ?? 0;

    /// <summary>True while an invocation is in progress.</summary>
    public bool IsBusy => _current is not null;

    /// <summary>True while the process runs and can take an invocation.</summary>
    public bool IsAlive => !_killed && _process is { HasExited: false } && _ready.Task.IsCompletedSuccessfully;

    /// <summary>Starts the Runtime API and the process, and waits until the process asks for its first invocation.</summary>
    /// <exception cref="LambdaInvocationException">The process failed to initialize (posted to <c>/init/error</c>, exited or took too long).</exception>
    public static async Task<ExecutionEnvironment> StartAsync(FunctionDefinition function, Action<string> output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(function);
        var environment = new ExecutionEnvironment(function, output);
        try
        {
            await environment.StartServerAsync(cancellationToken).ConfigureAwait(false);
            environment.StartProcess();
            await environment._ready.Task.WaitAsync(function.InitTimeout, cancellationToken).ConfigureAwait(false);
            return environment;
        }
        catch (TimeoutException)
        {
            await environment.DisposeAsync().ConfigureAwait(false);
            throw new LambdaInvocationException(
                "Runtime.InitTimeout", $"{function.Name} did not ask for an invocation within {function.InitTimeout.TotalSeconds:0} s of starting.");
        }
        catch
        {
            await environment.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Invokes the function once; the result is the response payload.</summary>
    /// <exception cref="LambdaInvocationException">The function reported an error, timed out, or its process died.</exception>
    public async Task<(byte[] Payload, InvocationReport Report)> InvokeAsync(byte[] payload, CancellationToken cancellationToken)
    {
        var invocation = new Invocation(Guid.NewGuid().ToString(), payload, TimeProvider.System.GetUtcNow() + _function.Timeout);
        if (!IsAlive || _current is not null)
        {
            throw new InvalidOperationException("This execution environment cannot take an invocation now.");
        }
        _current = invocation;
        var started = Stopwatch.StartNew();
        _next.Writer.TryWrite(invocation);
        var finished = await Task.WhenAny(invocation.Done.Task, Task.Delay(_function.Timeout, cancellationToken)).ConfigureAwait(false);
        if (finished != invocation.Done.Task)
        {
            // The outcome first: the kill below also ends the invocation (as an exit), and the first outcome wins.
            invocation.Done.TrySetResult(cancellationToken.IsCancellationRequested
                ? Outcome.Error("Runtime.Cancelled", "The local Lambda stopped.")
                : Outcome.Error("Sandbox.Timedout", $"RequestId: {invocation.RequestId} Error: Task timed out after {_function.Timeout.TotalSeconds:0.00} seconds"));
            Kill();
        }
        var outcome = await invocation.Done.Task.ConfigureAwait(false);
        _current = null;
        var init = _reported ? null : InitDuration;
        _reported = true;
        var report = new InvocationReport(invocation.RequestId, started.Elapsed, init, outcome.ErrorType);
        var initDuration = init is { } i ? FormattableString.Invariant($" Init Duration: {i.TotalMilliseconds:0.00} ms") : "";
        var errorType = outcome.ErrorType is { } t ? $" Error: {t}" : "";
        _output(FormattableString.Invariant($"REPORT RequestId: {report.RequestId} Duration: {report.Duration.TotalMilliseconds:0.00} ms{initDuration}{errorType}"));
        return outcome.ErrorType is null ? (outcome.Payload, report) : throw new LambdaInvocationException(outcome.ErrorType, outcome.Message) { Report = report };
    }

    /// <summary>Kills the process (SIGKILL), as Lambda does after a timeout; its invocation, if any, ends with an error.</summary>
    public void Kill()
    {
        _killed = true; // spent from now on, even before the process has gone
        try
        {
            _process?.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Kill();
        if (_process is not null)
        {
            await _process.WaitForExitAsync().ConfigureAwait(false);
            _process.Dispose();
        }
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = MaxResponseBytes);
        _server = builder.Build();
        _server.MapGet(Prefix + "/invocation/next", NextAsync);
        _server.MapPost(Prefix + "/invocation/{requestId}/response", (string requestId, HttpContext http) => CompleteAsync(requestId, http, error: false));
        _server.MapPost(Prefix + "/invocation/{requestId}/error", (string requestId, HttpContext http) => CompleteAsync(requestId, http, error: true));
        _server.MapPost(Prefix + "/init/error", (Delegate)InitErrorAsync);
        await _server.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// How a function's (or the Api's) program starts: <c>dotnet exec</c> in its task root, its output read, and only what
    /// Lambda gives in its environment (and what the dotnet host needs to be found): nothing of this process leaks in.
    /// </summary>
    internal static ProcessStartInfo StartInfo(string? host, string taskRoot, string program)
    {
        var start = new ProcessStartInfo(host ?? (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet"))
        {
            WorkingDirectory = taskRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(program);
        start.Environment.Clear();
        foreach (var name in new[] { "PATH", "HOME", "DOTNET_ROOT", "TMPDIR" })
        {
            if (Environment.GetEnvironmentVariable(name) is { } value)
            {
                start.Environment[name] = value;
            }
        }
        return start;
    }

    private void StartProcess()
    {
        var start = StartInfo(_function.Host, _function.TaskRoot, _function.Program);
        foreach (var (name, value) in _function.Environment)
        {
            start.Environment[name] = value;
        }
        var address = _server!.Urls.Single().Replace("http://", "", StringComparison.Ordinal);
        start.Environment["AWS_LAMBDA_RUNTIME_API"] = address;
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Forward(e.Data);
        _process.ErrorDataReceived += (_, e) => Forward(e.Data);
        _process.Exited += (_, _) => OnExited();
        _sinceStart.Start();
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Forward(string? line)
    {
        if (!string.IsNullOrEmpty(line))
        {
            _output(line);
        }
    }

    private void OnExited()
    {
        var code = _process!.ExitCode;
        var reason = code == 137 || code == -1 ? "signal: killed" : $"exit status {code}";
        _ready.TrySetException(new LambdaInvocationException("Runtime.ExitError", $"{_function.Name} exited during initialization ({reason})."));
        _current?.Done.TrySetResult(Outcome.Error("Runtime.ExitError", $"RequestId: {_current.RequestId} Error: Runtime exited with error: {reason}"));
        _next.Writer.TryComplete();
    }

    private async Task NextAsync(HttpContext http)
    {
        if (InitDuration is null)
        {
            InitDuration = _sinceStart.Elapsed;
            _ready.TrySetResult();
        }
        Invocation invocation;
        try
        {
            invocation = await _next.Reader.ReadAsync(http.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            return;
        }
        var headers = http.Response.Headers;
        headers["Lambda-Runtime-Aws-Request-Id"] = invocation.RequestId;
        headers["Lambda-Runtime-Deadline-Ms"] = invocation.Deadline.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var region = _function.Environment.GetValueOrDefault("AWS_REGION", "us-east-1");
        headers["Lambda-Runtime-Invoked-Function-Arn"] = $"arn:aws:lambda:{region}:000000000000:function:{_function.Name}";
        // X-Ray's format, as Lambda sends it: Root=1-<8 hex of epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0.
        headers["Lambda-Runtime-Trace-Id"] = string.Create(CultureInfo.InvariantCulture,
            $"Root=1-{TimeProvider.System.GetUtcNow().ToUnixTimeSeconds():x8}-{Guid.NewGuid().ToString("N")[..24]};Parent={Guid.NewGuid().ToString("N")[..16]};Sampled=0");
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(invocation.Payload).ConfigureAwait(false);
    }

    private async Task<IResult> CompleteAsync(string requestId, HttpContext http, bool error)
    {
        var invocation = _current;
        if (invocation is null || invocation.RequestId != requestId)
        {
            return TypedResults.Problem($"No invocation {requestId} is in progress.", statusCode: StatusCodes.Status400BadRequest, title: "InvalidRequestID");
        }
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, http.RequestAborted).ConfigureAwait(false);
        if (!error)
        {
            invocation.Done.TrySetResult(Outcome.Success(body.ToArray()));
            return Accepted();
        }
        var reported = TryParseError(body.ToArray());
        var type = http.Request.Headers["Lambda-Runtime-Function-Error-Type"].FirstOrDefault() ?? reported?.ErrorType ?? "Unhandled";
        invocation.Done.TrySetResult(Outcome.Error(type, reported?.ErrorMessage ?? ""));
        return Accepted();
    }

    private async Task<IResult> InitErrorAsync(HttpContext http)
    {
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, http.RequestAborted).ConfigureAwait(false);
        var reported = TryParseError(body.ToArray());
        var type = http.Request.Headers["Lambda-Runtime-Function-Error-Type"].FirstOrDefault() ?? "Runtime.Unknown";
        _ready.TrySetException(new LambdaInvocationException(type, reported?.ErrorMessage ?? "The function failed to initialize."));
        return Accepted();
    }

    // Lambda answers a response or error post with 202 and {"status":"OK"}.
    private static Microsoft.AspNetCore.Http.HttpResults.ContentHttpResult Accepted() =>
        TypedResults.Text("""{"status":"OK"}""", "application/json", System.Text.Encoding.UTF8, StatusCodes.Status202Accepted);

    private static LambdaError? TryParseError(byte[] body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, RuntimeJsonContext.Default.LambdaError);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed record Outcome(byte[] Payload, string? ErrorType, string Message)
    {
        public static Outcome Success(byte[] payload) => new(payload, null, "");

        public static Outcome Error(string type, string message) => new([], type, message);
    }

    private sealed class Invocation(string requestId, byte[] payload, DateTimeOffset deadline)
    {
        public string RequestId { get; } = requestId;

        public byte[] Payload { get; } = payload;

        public DateTimeOffset Deadline { get; } = deadline;

        public TaskCompletionSource<Outcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
