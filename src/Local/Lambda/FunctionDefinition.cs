namespace Pipeline.Local.Lambda;

/// <summary>A function as the local Lambda runs it: the built program and what Lambda would give it.</summary>
/// <param name="Name">The function name (AWS_LAMBDA_FUNCTION_NAME).</param>
/// <param name="TaskRoot">The folder holding the built program (LAMBDA_TASK_ROOT).</param>
/// <param name="Handler">The template's Handler: the executable assembly's name (_HANDLER).</param>
/// <param name="MemorySize">MB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE).</param>
/// <param name="Timeout">The template's Timeout: the deadline of each invocation.</param>
/// <param name="Environment">The template's variables, resolved locally, plus the local endpoints and credentials.</param>
public sealed record FunctionDefinition(string Name, string TaskRoot, string Handler, int MemorySize, TimeSpan Timeout,
    IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>How long a process may take to reach its first <c>GET /next</c> (Lambda's init phase limit is 10 s).</summary>
    public TimeSpan InitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// What starts the process, given <c>exec &lt;Program&gt;</c>: <c>dotnet</c> (or <c>DOTNET_HOST_PATH</c>) unless set.
    /// Benchmarks and tests set a launcher that puts the process in a cgroup or a read-only mount before it runs dotnet.
    /// </summary>
    public string? Host { get; init; }

    /// <summary>The program Lambda's dotnet bootstrap runs for a handler without <c>::</c>.</summary>
    public string Program => Path.Combine(TaskRoot, Handler + ".dll");
}

/// <summary>An invocation that ended in an error, as Lambda reports it to the caller.</summary>
public sealed class LambdaInvocationException(string errorType, string message) : Exception($"{errorType}: {message}")
{
    /// <summary>The error type (the function's, or Lambda's own: Sandbox.Timedout, Runtime.ExitError...).</summary>
    public string ErrorType { get; } = errorType;

    /// <summary>The error message.</summary>
    public string ErrorMessage { get; } = message;

    /// <summary>The invocation's report, if it reached a process.</summary>
    public InvocationReport? Report { get; init; }
}

/// <summary>What Lambda's REPORT line says of an invocation.</summary>
/// <param name="RequestId">The request id.</param>
/// <param name="Duration">From handing out the event to the response (or error).</param>
/// <param name="InitDuration">For the first invocation of a process: from its start to its first <c>GET /next</c>.</param>
/// <param name="ErrorType">Null if it succeeded.</param>
public sealed record InvocationReport(string RequestId, TimeSpan Duration, TimeSpan? InitDuration, string? ErrorType);
