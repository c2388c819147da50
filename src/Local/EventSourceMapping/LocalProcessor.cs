using System.Text.Json.Nodes;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.Lambda;

namespace Pipeline.Local.EventSourceMapping;

/// <summary>The Processor function on the local Lambda, and the SQS event source mapping that feeds it, as the template defines them.</summary>
public static class LocalProcessor
{
    /// <summary>The function's logical id in serverless.template.</summary>
    public const string LogicalId = "ProcessorFunction";

    /// <summary>The event source settings of the function's SQS event in the template.</summary>
    public static EventSourceOptions EventSourceOptions(ProvisionedResources stack)
    {
        ArgumentNullException.ThrowIfNull(stack);
        var sqs = stack.Functions[LogicalId]["Events"]?.AsObject().Select(e => e.Value).FirstOrDefault(e => e?["Type"]?.GetValue<string>() == "SQS")?["Properties"];
        var defaults = new EventSourceOptions();
        return new EventSourceOptions
        {
            BatchSize = Number(sqs?["BatchSize"]) ?? defaults.BatchSize,
            BatchingWindow = Number(sqs?["MaximumBatchingWindowInSeconds"]) is { } seconds ? TimeSpan.FromSeconds(seconds) : defaults.BatchingWindow,
            Concurrency = Number(sqs?["ScalingConfig"]?["MaximumConcurrency"]) ?? defaults.Concurrency,
        };

        static int? Number(JsonNode? node) => node is JsonValue v ? int.Parse(v.ToString(), System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    /// <summary>The Processor as Lambda runs it: its built program in processes, as many as its event sources' concurrency together.</summary>
    /// <param name="stack">The provisioned stack.</param>
    /// <param name="endpoints">The emulators.</param>
    /// <param name="output">Where each line the processes write goes.</param>
    /// <param name="overrides">Variables to set on top of the template's (tests point an endpoint through a faulty network with it).</param>
    /// <param name="taskRoot">The built program's folder, if not the build output of the template's CodeUri.</param>
    public static LocalFunction Start(ProvisionedResources stack, LocalEndpoints endpoints, Action<string> output,
        IReadOnlyDictionary<string, string>? overrides = null, string? taskRoot = null) =>
        new(LocalLambda.Definition(stack, LogicalId, endpoints, overrides, taskRoot), EventSourceOptions(stack).Concurrency * Queues.Count, output);

    /// <summary>The queues the Processor reads, each through an event source of its own: the live events, and the imported rows.</summary>
    public static readonly IReadOnlyList<string> Queues = ["EventsQueue", "ImportEventsQueue"];

    /// <summary>The event source that polls the stack's queue <paramref name="queue"/> (the events queue unless given) and invokes <paramref name="invoke"/>.</summary>
    public static SqsEventSource EventSource(LocalAws aws, ProvisionedResources stack, Func<byte[], CancellationToken, Task<byte[]>> invoke,
        EventSourceOptions options, Action<string> log, string queue = "EventsQueue")
    {
        ArgumentNullException.ThrowIfNull(aws);
        ArgumentNullException.ThrowIfNull(stack);
        var resource = stack.Resources[queue];
        return new SqsEventSource(aws.Sqs, resource.Ref, resource.Attributes["Arn"], aws.Endpoints.Region, invoke, options, log);
    }

    /// <summary>Runs an event source on each of the Processor's <see cref="Queues"/> until <paramref name="cancellationToken"/> stops them.</summary>
    public static Task RunEventSourcesAsync(LocalAws aws, ProvisionedResources stack, Func<byte[], CancellationToken, Task<byte[]>> invoke,
        EventSourceOptions options, Action<string> log, CancellationToken cancellationToken) =>
        Task.WhenAll(Queues.Select(queue => EventSource(aws, stack, invoke, options, log, queue).RunAsync(cancellationToken)));
}
