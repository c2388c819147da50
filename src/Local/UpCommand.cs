using System.CommandLine;
using Pipeline.ApiKeys;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Local.Lambda;
using Pipeline.Local.Schedule;
using Pipeline.Summaries;

namespace Pipeline.Local;

/// <summary><c>up</c>, <c>provision</c> and <c>aggregate</c>: the local environment itself.</summary>
public static class UpCommand
{
    /// <summary><c>up</c>: the whole pipeline, until Ctrl-C or SIGTERM.</summary>
    public static Command Create()
    {
        var command = new Command("up", """
            (the default) install and start the emulators, provision serverless.template, build the Api and the functions,
            run the API on http://127.0.0.1:5080 (Swagger UI at /swagger), the Processor on the queue, the Aggregator
            every window and the import function on the imports bucket's uploads, each in its own process (the functions under a local Lambda Runtime API), until Ctrl-C or SIGTERM
            """);
        command.Validators.Add(r =>
        {
            // Checked before anything starts: the registry would refuse it once the emulators are up.
            if (Environment.GetEnvironmentVariable("PIPELINE_API_KEY") is { Length: > 0 and < ApiKeyRegistry.MinimumKeyLength })
            {
                r.AddError($"PIPELINE_API_KEY is too short: an API key has at least {ApiKeyRegistry.MinimumKeyLength} characters. "
                    + "Set a longer one, or unset it and `up` creates a key.");
            }
        });
        command.SetAction(async (r, ct) =>
        {
            await UpAsync(StackName, r.InvocationConfiguration.Output.WriteLine, ct);
            return 0;
        });
        return command;
    }

    /// <summary><c>provision</c>: the template on emulators that are already running.</summary>
    public static Command Provision()
    {
        var command = new Command("provision", "provision serverless.template on emulators that are already running");
        command.SetAction(async (r, ct) =>
        {
            using var aws = new LocalAws(LocalEndpoints.Default);
            await new TemplateProvisioner(aws, r.InvocationConfiguration.Output.WriteLine).ProvisionAsync(StackName, ct);
            return 0;
        });
        return command;
    }

    /// <summary><c>aggregate</c>: one Aggregator run on the running environment.</summary>
    public static Command Aggregate()
    {
        var command = new Command("aggregate", "run the Aggregator once on the running environment and print the latest summaries");
        command.SetAction(async (r, ct) =>
        {
            await AggregateOnceAsync(StackName, r.InvocationConfiguration.Output.WriteLine, ct);
            return 0;
        });
        return command;
    }

    private static string StackName => LocalEndpoints.Stack;

    private static async Task UpAsync(string stackName, Action<string> say, CancellationToken cancellationToken)
    {
        LocalAws.UseDummyCredentialsInThisProcess();
        await using var emulators = await LocalEmulators.StartAsync(new EmulatorOptions(), say, cancellationToken);
        using var aws = new LocalAws(emulators.Endpoints);
        say($"Provisioning serverless.template as stack '{stackName}':");
        var stack = await new TemplateProvisioner(aws, say).ProvisionAsync(stackName, cancellationToken);
        var apiKey = await ApiKeyAsync(new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]), say, cancellationToken);

        var codeUris = new[] { LocalApi.LogicalId, LocalProcessor.LogicalId, LocalAggregator.LogicalId, LocalImporter.LogicalId }
            .Select(f => stack.FunctionSetting(f, "CodeUri")!).ToList();
        say($"Building {string.Join(", ", codeUris.Select(c => c.TrimStart('.', '/')))} (dotnet build)...");
        await LocalLambda.BuildAsync(codeUris, cancellationToken);
        await using var api = await LocalApi.StartAsync(stack, emulators.Endpoints, LocalApi.DefaultUrl, FunctionConsole.For("api", say), cancellationToken);
        await using var processor = LocalProcessor.Start(stack, emulators.Endpoints, FunctionConsole.For("processor", say));
        var processing = LocalProcessor.RunEventSourcesAsync(aws, stack, processor.InvokeAsync, LocalProcessor.EventSourceOptions(stack), say, cancellationToken);
        await using var importer = LocalImporter.Start(stack, emulators.Endpoints, FunctionConsole.For("import", say));
        var importing = LocalImporter.EventSource(aws, stack, importer.InvokeAsync, say).RunAsync(cancellationToken);
        var notifying = LocalImporter.Notifications(aws, stack, say).RunAsync(cancellationToken);
        var window = LocalAggregator.Window();
        await using var aggregator = LocalAggregator.Start(stack, emulators.Endpoints, window, FunctionConsole.For("aggregator", say));
        var aggregating = LocalAggregator.ScheduleAsync(aggregator, window, say, cancellationToken);

        say("");
        say("Local pipeline is up:");
        say($"  API                    {api.Url}  (Swagger UI: {api.Url}/swagger; {api.Definition.Program}, as the Lambda Web Adapter runs it)");
        say($"  Processor              {processor.Definition.Program} on {stack["EventsQueue"]} and {stack["ImportEventsQueue"]} (batches of up to 10, local Lambda Runtime API)");
        say($"  Aggregator             {aggregator.Definition.Program} every {window} window (PIPELINE_SUMMARY_WINDOW), publishing to {stack["SummaryTopic"]}");
        say($"  Import                 {importer.Definition.Program} on {stack["ImportQueue"]}, notified of files under uploads/ in {stack["ImportsBucket"]}");
        say($"  SQS, SNS, S3 (fauxqs)  {emulators.Endpoints.Fauxqs}");
        say($"  DynamoDB Local         {emulators.Endpoints.DynamoDb}");
        say($"  region                 {emulators.Endpoints.Region} (dummy credentials: any value)");
        foreach (var r in stack.Resources.Values.Where(r => r.Outcome != ProvisionOutcome.NotLocal))
        {
            say($"  {r.LogicalId,-22} {r.PhysicalName}");
        }
        say("");
        say("Try it:");
        say($"  curl -i {api.Url}/events -H 'content-type: application/json' -H 'x-api-key: {apiKey}' \\");
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
        await Task.WhenAll(processing, aggregating, importing, notifying);
    }

    private static async Task AggregateOnceAsync(string stackName, Action<string> say, CancellationToken cancellationToken)
    {
        LocalAws.UseDummyCredentialsInThisProcess();
        using var aws = new LocalAws(LocalEndpoints.Default);
        var stack = await new TemplateProvisioner(aws).ProvisionAsync(stackName, cancellationToken);
        await LocalLambda.BuildAsync([stack.FunctionSetting(LocalAggregator.LogicalId, "CodeUri")!], cancellationToken);
        await using var aggregator = LocalAggregator.Start(stack, LocalEndpoints.Default, LocalAggregator.Window(), FunctionConsole.For("aggregator", say));
        var run = await LocalAggregator.InvokeAsync(aggregator, cancellationToken);
        say($"Published {run.Published.Count} summary(ies) "
            + $"(counted from {run.EventsRead} archived event(s); {run.LateHours} late hour(s); {run.CompactedHours} hour(s) compacted).");
        foreach (var summary in await new SummaryStore(aws.DynamoDb, stack["SummariesTable"], TimeProvider.System).RecentAsync(3, cancellationToken))
        {
            say(System.Text.Json.JsonSerializer.Serialize(summary, SummaryJsonContext.Default.Summary));
        }
    }

    private static async Task<string> ApiKeyAsync(ApiKeyRegistry registry, Action<string> say, CancellationToken cancellationToken)
    {
        if (Environment.GetEnvironmentVariable("PIPELINE_API_KEY") is { Length: > 0 } given)
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
