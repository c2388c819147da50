using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.DynamoDBv2.Model;
using Amazon.SQS.Model;

namespace Pipeline.Local.Emulators;

/// <summary>How to bring the emulators up.</summary>
public sealed record EmulatorOptions
{
    /// <summary>fauxqs's port; 0 picks a free one.</summary>
    public int FauxqsPort { get; init; } = 4566;

    /// <summary>DynamoDB Local's port; 0 picks a free one.</summary>
    public int DynamoDbPort { get; init; } = 8000;

    /// <summary>Use emulators that already answer on the ports instead of starting new ones.</summary>
    public bool ReuseRunning { get; init; } = true;

    /// <summary>Options for a private instance on free ports: what each test run uses.</summary>
    public static EmulatorOptions Private { get; } = new() { FauxqsPort = 0, DynamoDbPort = 0, ReuseRunning = false };
}

/// <summary>
/// The running local stand-ins for AWS: fauxqs (bound to 127.0.0.1 by the launcher) and DynamoDB Local (which has no
/// bind-address option and listens on every interface).
/// Disposing stops what this instance started (and nothing it reused).
/// </summary>
public sealed class LocalEmulators : IAsyncDisposable
{
    private readonly Process? _process;

    private LocalEmulators(LocalEndpoints endpoints, Process? process)
    {
        Endpoints = endpoints;
        _process = process;
    }

    /// <summary>Where the emulators answer.</summary>
    public LocalEndpoints Endpoints { get; }

    /// <summary>True when healthy emulators were already running and are reused.</summary>
    public bool Reused => _process is null;

    /// <summary>Installs (first time only), starts or reuses the emulators, and waits until both answer.</summary>
    public static async Task<LocalEmulators> StartAsync(EmulatorOptions options, Action<string> progress, CancellationToken cancellationToken)
    {
        if (options.ReuseRunning && options.FauxqsPort != 0 && options.DynamoDbPort != 0)
        {
            var running = LocalEndpoints.At(options.FauxqsPort, options.DynamoDbPort);
            if (await AnswersAsync(running, cancellationToken))
            {
                progress($"Reusing the emulators already running at {running.Fauxqs} and {running.DynamoDb}.");
                return new LocalEmulators(running, process: null);
            }
        }

        var paths = RepositoryPaths.Discover();
        var installation = await EmulatorInstaller.EnsureInstalledAsync(paths, progress, cancellationToken);
        var endpoints = LocalEndpoints.At(
            options.FauxqsPort == 0 ? FreePort() : options.FauxqsPort,
            options.DynamoDbPort == 0 ? FreePort() : options.DynamoDbPort);

        progress($"Starting fauxqs on {endpoints.Fauxqs} and DynamoDB Local on {endpoints.DynamoDb}...");
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = paths.EmulatorSources,
            RedirectStandardInput = true, // the launcher exits when this pipe closes, even if we die
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[]
        {
            installation.Launcher,
            "--fauxqs-port", endpoints.Fauxqs.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--dynamodb-port", endpoints.DynamoDb.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--dynamodb-dir", installation.DynamoDbLocalDirectory,
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = EmulatorInstaller.StartOrExplain(start);
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (errors) { errors.AppendLine(e.Data); } };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        var emulators = new LocalEmulators(endpoints, process);
        var deadline = Stopwatch.StartNew();
        while (!await AnswersAsync(endpoints, cancellationToken))
        {
            if (process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                await emulators.DisposeAsync();
                string detail;
                lock (errors)
                {
                    detail = errors.ToString().Trim();
                }
                throw new InvalidOperationException($"The emulators did not come up on {endpoints.Fauxqs} and {endpoints.DynamoDb}: {detail}");
            }
            await Task.Delay(200, cancellationToken);
        }
        progress($"Emulators ready in {deadline.Elapsed.TotalSeconds:0.0} s.");
        return emulators;
    }

    /// <summary>True when both emulators answer a real API call.</summary>
    public static async Task<bool> AnswersAsync(LocalEndpoints endpoints, CancellationToken cancellationToken)
    {
        using var aws = new LocalAws(endpoints);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await aws.DynamoDb.ListTablesAsync(new ListTablesRequest { Limit = 1 }, timeout.Token);
            await aws.Sqs.ListQueuesAsync(new ListQueuesRequest { MaxResults = 1 }, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException
            or Amazon.Runtime.AmazonServiceException or Amazon.Runtime.AmazonClientException
            && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>A TCP port on 127.0.0.1 that nothing listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops the emulators this instance started, leaving no process behind.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }
        if (!_process.HasExited)
        {
            _process.StandardInput.Close(); // asks the launcher to stop both emulators
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }
}
