using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Pipeline.Local.CloudFormation;

namespace Pipeline.Local.Lambda;

/// <summary>
/// The Api function as Lambda runs it behind the AWS Lambda Web Adapter: its built program (<c>dotnet exec Pipeline.Api.dll</c>)
/// as its own process, with the environment Lambda gives it and the template's variables, ready once the adapter's
/// readiness check (<c>AWS_LWA_READINESS_CHECK_PATH</c>) answers. Locally the program listens on <see cref="DefaultUrl"/>
/// itself, where API Gateway and the adapter would forward requests to it (docs/architecture.md, D8).
/// </summary>
public sealed class LocalApi : IAsyncDisposable
{
    /// <summary>The function's logical id in serverless.template.</summary>
    public const string LogicalId = "ApiFunction";

    /// <summary>The API's local address (the README's contract).</summary>
    public static readonly string DefaultUrl = LocalEndpoints.Api.ToString().TrimEnd('/');

    // The adapter's own settings: on Lambda they tell the adapter where the program listens; locally nothing reads them.
    private static readonly string[] AdapterVariables = ["AWS_LAMBDA_EXEC_WRAPPER", "AWS_LWA_PORT", "AWS_LWA_READINESS_CHECK_PATH", "AWS_LWA_READINESS_CHECK_PROTOCOL"];

    private readonly Process _process;
    private int _disposed;

    private LocalApi(FunctionDefinition definition, string url, Process process)
    {
        Definition = definition;
        Url = url;
        _process = process;
    }

    /// <summary>What the process runs and with what.</summary>
    public FunctionDefinition Definition { get; }

    /// <summary>Where the API answers.</summary>
    public string Url { get; }

    /// <summary>The Api process's id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>
    /// The environment the template gives the Api function (resolved locally, as configuration keys), with the local endpoints:
    /// for a host of the Api's code that reads configuration rather than Lambda's variables.
    /// </summary>
    public static Dictionary<string, string?> Settings(LocalEndpoints endpoints, ProvisionedResources stack)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(stack);
        var settings = stack.FunctionEnvironment(LogicalId).ToDictionary(v => v.Key.Replace("__", ":", StringComparison.Ordinal), v => (string?)v.Value);
        settings["AWS:Region"] = endpoints.Region;
        settings["AWS:SQS:ServiceURL"] = endpoints.Fauxqs.ToString();
        settings["AWS:DynamoDB:ServiceURL"] = endpoints.DynamoDb.ToString();
        return settings;
    }

    /// <summary>
    /// Starts the Api's build output (that of the template's CodeUri, unless <paramref name="taskRoot"/> is given) listening on
    /// <paramref name="url"/>, and waits until it answers its readiness check; dispose the result to stop it.
    /// </summary>
    /// <param name="stack">The provisioned stack.</param>
    /// <param name="endpoints">The emulators.</param>
    /// <param name="url">Where the program listens (<c>ASPNETCORE_URLS</c>).</param>
    /// <param name="output">Where each line the process writes goes.</param>
    /// <param name="cancellationToken">Stops the start.</param>
    /// <param name="taskRoot">The built program's folder, if not the build output of the template's CodeUri.</param>
    /// <exception cref="InvalidOperationException">
    /// Something already listens on <paramref name="url"/>; or the program exited, or did not answer within <see cref="FunctionDefinition.InitTimeout"/>.
    /// </exception>
    public static async Task<LocalApi> StartAsync(ProvisionedResources stack, LocalEndpoints endpoints, string url, Action<string> output,
        CancellationToken cancellationToken, string? taskRoot = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        ArgumentNullException.ThrowIfNull(output);
        var definition = LocalLambda.Definition(stack, LogicalId, endpoints, new Dictionary<string, string> { ["ASPNETCORE_URLS"] = url }, taskRoot);
        // Else the readiness check could be answered by whatever listens there (an Api a killed run left behind).
        if (!IsFree(new Uri(url)))
        {
            throw new InvalidOperationException($"{url} is in use: stop what listens there (another local pipeline, or an Api process an earlier run left) first.");
        }
        // Started as the functions are (ExecutionEnvironment), on the dotnet host whatever the definition names.
        var start = ExecutionEnvironment.StartInfo(host: null, definition.TaskRoot, definition.Program);
        foreach (var (name, value) in definition.Environment.Where(v => !AdapterVariables.Contains(v.Key)))
        {
            start.Environment[name] = value;
        }

        var recent = new Queue<string>();
        void Forward(string? line)
        {
            if (string.IsNullOrEmpty(line))
            {
                return;
            }
            lock (recent)
            {
                recent.Enqueue(line);
                if (recent.Count > 20)
                {
                    recent.Dequeue();
                }
            }
            output(line);
        }
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Forward(e.Data);
        process.ErrorDataReceived += (_, e) => Forward(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var api = new LocalApi(definition, url, process);
        try
        {
            await api.WaitUntilReadyAsync(stack.FunctionEnvironment(LogicalId).GetValueOrDefault("AWS_LWA_READINESS_CHECK_PATH", "/"),
                definition.InitTimeout, cancellationToken).ConfigureAwait(false);
            return api;
        }
        catch (InvalidOperationException e)
        {
            await api.DisposeAsync().ConfigureAwait(false);
            string lines;
            lock (recent)
            {
                lines = string.Join('\n', recent);
            }
            throw new InvalidOperationException($"{e.Message}{(lines.Length > 0 ? $" Its last lines:\n{lines}" : "")}", e);
        }
        catch
        {
            await api.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops the process.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        await _process.WaitForExitAsync().ConfigureAwait(false);
        _process.Dispose();
    }

    private static bool IsFree(Uri url)
    {
        try
        {
            var listener = new TcpListener(IPAddress.Loopback, url.Port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    // As the adapter does before it passes on the first request: poll the readiness path until it answers below 500.
    private async Task WaitUntilReadyAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Definition.Name} exited while starting (exit status {_process.ExitCode}).");
            }
            try
            {
                using var response = await http.GetAsync(new Uri(new Uri(Url), path), cancellationToken).ConfigureAwait(false);
                if ((int)response.StatusCode < 500)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not listening yet.
            }
            if (watch.Elapsed > timeout)
            {
                throw new InvalidOperationException($"{Definition.Name} did not answer {path} on {Url} within {timeout.TotalSeconds:0} s of starting.");
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }
}
