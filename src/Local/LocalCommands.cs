using Pipeline.ApiKeys;
using Pipeline.Local.Environment;
using Pipeline.Local.Hosting;
using Pipeline.Local.Provisioning;

namespace Pipeline.Local;

/// <summary>The command line of <c>dotnet run --project src/Local</c>.</summary>
public static class LocalCommands
{
    /// <summary>The stack name local resources are named after, unless PIPELINE_STACK says otherwise.</summary>
    public const string DefaultStackName = "pipeline-local";

    private const string Usage = """
        usage: dotnet run --project src/Local [-- COMMAND]

          up          (default) install and start the emulators, provision serverless.template,
                      run the API on http://127.0.0.1:5080 (Swagger UI at /swagger), the Processor
                      on the queue and the Aggregator every window, each function in its own process under a local
                      Lambda Runtime API, until Ctrl-C or SIGTERM
          provision   provision serverless.template on emulators that are already running
          aggregate   run the Aggregator once on the running environment and print the latest summaries
        """ + "\n" + KeysCommand.Usage + "\n" + RedriveCommand.Usage + "\n" + ReplayCommand.Usage + "\n" + StatusCommand.Usage + "\n" + QueryCommand.Usage + "\n" + CompactCommand.Usage + "\n" + GenerateCommand.Usage + "\n" + DrainArchiveQueueCommand.Usage + """

          help        this text

        environment: PIPELINE_STACK (default pipeline-local); PIPELINE_API_KEY (a key `up` registers,
                     for scripts; without it, `up` creates one and prints it); PIPELINE_SUMMARY_WINDOW
                     (the local summary window, whole minutes as a TimeSpan, default 00:01:00)
        """;

    /// <summary>Runs a command; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        var stackName = System.Environment.GetEnvironmentVariable("PIPELINE_STACK") is { Length: > 0 } s ? s : DefaultStackName;
        void Say(string line) => output.WriteLine(line);
        try
        {
            switch (args.FirstOrDefault() ?? "up")
            {
                case "up":
                    if (System.Environment.GetEnvironmentVariable("PIPELINE_API_KEY") is { Length: > 0 and < 16 })
                    {
                        // Checked before anything starts: the registry would refuse it after the emulators are up.
                        await Console.Error.WriteLineAsync("PIPELINE_API_KEY is too short: an API key has at least 16 characters. Set a longer one, or unset it and `up` creates a key.");
                        return 2;
                    }
                    await UpAsync(stackName, Say, cancellationToken);
                    return 0;
                case "provision":
                    using (var aws = new LocalAws(LocalEndpoints.Default))
                    {
                        await new TemplateProvisioner(aws, Say).ProvisionAsync(stackName, cancellationToken);
                    }
                    return 0;
                case "aggregate":
                    await AggregateOnceAsync(stackName, Say, cancellationToken);
                    return 0;
                case "keys":
                    return await KeysCommand.RunAsync(args, stackName, output, cancellationToken);
                case "replay":
                    return await ReplayAsync(new CommandOptions(args.Skip(1)), stackName, output, cancellationToken);
                case "generate":
                    return await GenerateCommand.RunAsync(new CommandOptions(args.Skip(1)), output, cancellationToken);
                case "status":
                    var status = new CommandOptions(args.Skip(1));
                    var statusStack = status["stack"] ?? stackName;
                    if (status.Deployed && status["bucket"] is null)
                    {
                        await Console.Error.WriteLineAsync("status of a deployed stack needs --bucket (its ArchiveBucketName output).");
                        return 2;
                    }
                    using (var statusSqs = status.Sqs())
                    using (var statusDynamoDb = status.DynamoDb())
                    using (var statusS3 = status.S3())
                    {
                        // Locally, the provisioner names the bucket it creates after the stack and the logical id.
                        var target = new StatusCommand.Target(statusSqs, statusDynamoDb, statusS3, statusStack, status["bucket"] ?? $"{statusStack}-archivebucket", !status.Deployed,
                            status.Deployed ? status.CloudWatch() : null);
                        var interval = TimeSpan.FromSeconds(int.TryParse(status["interval"], System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? seconds : 5);
                        return await StatusCommand.RunAsync(target, status.Has("watch"), interval, output, cancellationToken);
                    }
                case "query":
                    return await QueryAsync(args, stackName, output, cancellationToken);
                case "compact":
                    var compact = new CommandOptions(args.Skip(1));
                    if (ArchiveBucket(compact, compact["stack"] ?? stackName) is not { } compactBucket)
                    {
                        return 2;
                    }
                    if (compact.Has("hour") && Time(compact["hour"]) is null)
                    {
                        await Console.Error.WriteLineAsync($"compact --hour needs an ISO-8601 time (e.g. 2026-11-24T10:00Z).\n{CompactCommand.Usage}");
                        return 2;
                    }
                    using (var compactS3 = compact.S3())
                    using (var compactDynamoDb = compact.DynamoDb())
                    {
                        return await CompactCommand.RunAsync(compactS3, compactDynamoDb, compactBucket, $"{compact["stack"] ?? stackName}-summaries", Time(compact["hour"]), output, cancellationToken);
                    }
                case "redrive":
                    var redrive = new CommandOptions(args.Skip(1));
                    using (var sqs = redrive.Sqs())
                    {
                        return await RedriveCommand.RunAsync(sqs, redrive["stack"] ?? stackName, redrive.Has("dry-run"), output, cancellationToken);
                    }
                case "drain-archive-queue":
                    var drain = new CommandOptions(args.Skip(1));
                    var drainStack = drain["stack"] ?? stackName;
                    if (drain.Deployed && drain["bucket"] is null)
                    {
                        await Console.Error.WriteLineAsync("drain-archive-queue of a deployed stack needs --bucket (its ArchiveBucketName output).");
                        return 2;
                    }
                    using (var drainSqs = drain.Sqs())
                    using (var drainS3 = drain.S3())
                    {
                        var drained = await DrainArchiveQueueCommand.RunAsync(drainSqs, drainS3, $"{drainStack}-archive", drain["bucket"] ?? $"{drainStack}-archivebucket", output, cancellationToken);
                        Say($"Done: {drained} event(s) written to the archive from {drainStack}-archive. The queue is no longer used; delete it when it stays empty.");
                        return 0;
                    }
                case "help" or "--help" or "-h":
                    Say(Usage);
                    return 0;
                default:
                    await Console.Error.WriteLineAsync($"Unknown command '{args[0]}'.\n{Usage}");
                    return 2;
            }
        }
        catch (TemplateException e)
        {
            await Console.Error.WriteLineAsync($"serverless.template: {e.Message}");
            return 1;
        }
        catch (Pipeline.Local.Lambda.LambdaInvocationException e)
        {
            await Console.Error.WriteLineAsync($"The function failed: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is HttpRequestException or Amazon.Runtime.AmazonClientException && args.FirstOrDefault() is "provision" or "aggregate" or "keys" or "redrive" or "status" or "replay" or "drain-archive-queue" or "query" or "compact")
        {
            await Console.Error.WriteLineAsync($"Cannot reach the local environment ({e.Message}). Start it first: dotnet run --project src/Local");
            return 1;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException && !cancellationToken.IsCancellationRequested)
        {
            // Start-up failures (a missing tool, a port in use, a bad setting) need their message, not a stack trace.
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
    }

    private static async Task UpAsync(string stackName, Action<string> say, CancellationToken cancellationToken)
    {
        LocalAws.UseDummyCredentialsInThisProcess();
        await using var emulators = await LocalEmulators.StartAsync(new EmulatorOptions(), say, cancellationToken);
        using var aws = new LocalAws(emulators.Endpoints);
        say($"Provisioning serverless.template as stack '{stackName}':");
        var stack = await new TemplateProvisioner(aws, say).ProvisionAsync(stackName, cancellationToken);
        var apiKey = await ApiKeyAsync(new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]), say, cancellationToken);

        await using var api = await LocalApi.StartAsync(emulators.Endpoints, stack, LocalApi.DefaultUrl, cancellationToken);
        await using var processor = LocalProcessor.Start(stack, emulators.Endpoints, FunctionConsole.For("processor", say));
        var processing = LocalProcessor.EventSource(aws, stack, processor.InvokeAsync, LocalProcessor.EventSourceOptions(stack), say).RunAsync(cancellationToken);
        var window = LocalAggregator.Window();
        await using var aggregator = LocalAggregator.Start(stack, emulators.Endpoints, window, FunctionConsole.For("aggregator", say));
        var aggregating = LocalAggregator.ScheduleAsync(aggregator, window, say, cancellationToken);

        say("");
        say("Local pipeline is up:");
        say($"  API                    {LocalApi.DefaultUrl}  (Swagger UI: {LocalApi.DefaultUrl}/swagger)");
        say($"  Processor              {processor.Definition.Program} on {stack["EventsQueue"]} (batches of up to 10, local Lambda Runtime API)");
        say($"  Aggregator             {aggregator.Definition.Program} every {window} window (PIPELINE_SUMMARY_WINDOW), publishing to {stack["SummaryTopic"]}");
        say($"  SQS, SNS, S3 (fauxqs)  {emulators.Endpoints.Fauxqs}");
        say($"  DynamoDB Local         {emulators.Endpoints.DynamoDb}");
        say($"  region                 {emulators.Endpoints.Region} (dummy credentials: any value)");
        foreach (var r in stack.Resources.Values.Where(r => r.Outcome != ProvisionOutcome.NotLocal))
        {
            say($"  {r.LogicalId,-22} {r.PhysicalName}");
        }
        say("");
        say("Try it:");
        say($"  curl -i {LocalApi.DefaultUrl}/events -H 'content-type: application/json' -H 'x-api-key: {apiKey}' \\");
        say("    -d '{\"eventType\":\"page_view\",\"userId\":\"u-1\"}'");
        say("Press Ctrl-C to stop.");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            say("Stopping...");
        }
        await Task.WhenAll(processing, aggregating);
    }

    private static async Task AggregateOnceAsync(string stackName, Action<string> say, CancellationToken cancellationToken)
    {
        LocalAws.UseDummyCredentialsInThisProcess();
        using var aws = new LocalAws(LocalEndpoints.Default);
        var stack = await new TemplateProvisioner(aws).ProvisionAsync(stackName, cancellationToken);
        await using var aggregator = LocalAggregator.Start(stack, LocalEndpoints.Default, LocalAggregator.Window(), FunctionConsole.For("aggregator", say));
        var run = await LocalAggregator.InvokeAsync(aggregator, cancellationToken);
        say($"Published {run.Published.Count} summary(ies) (counted from {run.EventsRead} archived event(s); {run.LateHours} late hour(s); {run.CompactedHours} hour(s) compacted).");
        foreach (var summary in await new Pipeline.Aggregator.SummaryStore(aws.DynamoDb, stack["SummariesTable"], TimeProvider.System).RecentAsync(3, cancellationToken))
        {
            say(System.Text.Json.JsonSerializer.Serialize(summary, Pipeline.Aggregator.SummaryJsonContext.Default.Summary));
        }
    }

    private static DateTimeOffset? Time(string? text) =>
        DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t.ToUniversalTime() : null;

    // The archive bucket: the local stack's, or --bucket for a deployed one (null, with a message, if it is missing).
    private static string? ArchiveBucket(CommandOptions options, string stack)
    {
        if (options.Deployed && options["bucket"] is null)
        {
            Console.Error.WriteLine("A deployed stack needs --bucket (its ArchiveBucketName output).");
            return null;
        }
        // Locally, the provisioner names the bucket it creates after the stack and the logical id.
        return options["bucket"] ?? $"{stack}-archivebucket";
    }

    private static async Task<int> QueryAsync(string[] args, string stackName, TextWriter output, CancellationToken cancellationToken)
    {
        var sql = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1] : null;
        var options = new CommandOptions(args.Skip(sql is null ? 1 : 2));
        var now = DateTimeOffset.UtcNow;
        var from = options.Has("from") ? Time(options["from"]) : now.AddDays(-1);
        var to = options.Has("to") ? Time(options["to"]) : now;
        QueryCommand.Format? format = (options["format"] ?? "table").ToLowerInvariant() switch
        {
            "table" => QueryCommand.Format.Table,
            "csv" => QueryCommand.Format.Csv,
            "json" => QueryCommand.Format.Json,
            _ => null,
        };
        if (sql is null || from is null || to is null || from >= to || format is null)
        {
            await Console.Error.WriteLineAsync($"query needs SQL in one argument; --from and --to ISO-8601 times, from before to; --format table, csv or json.\n{QueryCommand.Usage}");
            return 2;
        }
        if (ArchiveBucket(options, options["stack"] ?? stackName) is not { } bucket)
        {
            return 2;
        }
        using var s3 = options.S3();
        return await QueryCommand.RunAsync(s3, bucket, sql, format.Value, from.Value, to.Value, output, Console.Error, cancellationToken);
    }

    private static async Task<int> ReplayAsync(CommandOptions options, string stackName, TextWriter output, CancellationToken cancellationToken)
    {
        if (Time(options["from"]) is not { } from || Time(options["to"]) is not { } to || from >= to)
        {
            await Console.Error.WriteLineAsync($"replay needs a range: --from and --to, ISO-8601 times with from before to (e.g. --from 2026-11-24T10:00Z --to 2026-11-24T12:00Z).\n{ReplayCommand.Usage}");
            return 2;
        }
        var stack = options["stack"] ?? stackName;
        if (options.Deployed && options["bucket"] is null)
        {
            await Console.Error.WriteLineAsync("replay into a deployed stack needs --bucket (its ArchiveBucketName output).");
            return 2;
        }
        var type = options["event-type"];
        var checkpoint = options["checkpoint"] ?? Path.Combine(RepositoryPaths.Discover().LocalState,
            $"replay-{stack}-{from:yyyyMMddTHHmmss}-{to:yyyyMMddTHHmmss}{(type is null ? "" : "-" + type)}.json");
        using var s3 = options.S3();
        using var sqs = options.Sqs();
        var live = !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
        var result = await ReplayCommand.RunAsync(s3, sqs, options["bucket"] ?? $"{stack}-archivebucket", $"{stack}-events", from, to, type, checkpoint,
            live ? line => output.Write($"\r{line}   ") : null, cancellationToken);
        await output.WriteLineAsync($"{(live ? "\r" : "")}Replayed {result.Sent} event(s) from {result.Objects} archive object(s) to {stack}-events ({result.Skipped} sent by an earlier run of this replay). Checkpoint: {checkpoint}");
        return 0;
    }

    private static async Task<string> ApiKeyAsync(ApiKeyRegistry registry, Action<string> say, CancellationToken cancellationToken)
    {
        if (System.Environment.GetEnvironmentVariable("PIPELINE_API_KEY") is { Length: > 0 } given)
        {
            var record = await registry.RegisterAsync(given, "PIPELINE_API_KEY", cancellationToken);
            say($"API key from PIPELINE_API_KEY registered (id {record.KeyId}).");
            return given;
        }
        var (key, created) = await registry.CreateAsync("local", cancellationToken);
        say($"Created API key {created.KeyId}; its value, shown only now: {key}");
        return key;
    }
}
