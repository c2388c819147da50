using System.Text.Json.Nodes;
using Pipeline.Local.Environment;
using Pipeline.Local.Provisioning;
using Pipeline.Processor;

namespace Pipeline.Local.Hosting;

/// <summary>The Processor function, as Lambda would run it, fed by the local SQS event source.</summary>
public static class LocalProcessor
{
    /// <summary>The function's logical id in serverless.template.</summary>
    public const string LogicalId = "ProcessorFunction";

    /// <summary>The Processor's settings: the environment the template gives the function, resolved locally.</summary>
    public static ProcessorOptions Options(ProvisionedResources stack, TimeSpan? timeBudget = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        var environment = stack.FunctionEnvironment(LogicalId);
        var options = ProcessorOptions.FromEnvironment(name => environment.GetValueOrDefault(name));
        return timeBudget is { } budget ? options with { TimeBudget = budget } : options;
    }

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

    /// <summary>The event source that polls the stack's events queue and invokes <paramref name="function"/>.</summary>
    public static SqsEventSource EventSource(LocalAws aws, ProvisionedResources stack, ProcessorFunction function, EventSourceOptions options, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(aws);
        ArgumentNullException.ThrowIfNull(stack);
        ArgumentNullException.ThrowIfNull(function);
        var queue = stack.Resources["EventsQueue"];
        return new SqsEventSource(aws.Sqs, queue.Ref, queue.Attributes["Arn"], aws.Endpoints.Region, function.Handler, options, log);
    }

    /// <summary>A Processor function on the local stack's clients.</summary>
    public static ProcessorFunction Function(LocalAws aws, ProvisionedResources stack, TextWriter log, TimeSpan? timeBudget = null)
    {
        ArgumentNullException.ThrowIfNull(aws);
        return new(Options(stack, timeBudget), aws.DynamoDb, aws.S3, TimeProvider.System, log);
    }
}
