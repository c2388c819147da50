using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Local.Lambda;
using Pipeline.Local.Notifications;

namespace Pipeline.Local.EventSourceMapping;

/// <summary>The import function on the local Lambda, its SQS event source, and the imports bucket's notifications, as the template defines them.</summary>
public static class LocalImporter
{
    /// <summary>The function's logical id in serverless.template.</summary>
    public const string LogicalId = "ImportFunction";

    /// <summary>The import function as Lambda runs it: its built program in processes, as many as its event source's concurrency.</summary>
    /// <param name="stack">The provisioned stack.</param>
    /// <param name="endpoints">The emulators.</param>
    /// <param name="output">Where each line the processes write goes.</param>
    /// <param name="definition">Changes to the template's definition (a test shortens the timeout with it).</param>
    public static LocalFunction Start(ProvisionedResources stack, LocalEndpoints endpoints, Action<string> output,
        Func<FunctionDefinition, FunctionDefinition>? definition = null)
    {
        var defined = LocalLambda.Definition(stack, LogicalId, endpoints);
        return new(definition?.Invoke(defined) ?? defined, Options(stack).Concurrency, output);
    }

    /// <summary>The event source settings of the function's SQS event in the template.</summary>
    public static EventSourceOptions Options(ProvisionedResources stack)
    {
        ArgumentNullException.ThrowIfNull(stack);
        var sqs = stack.Functions[LogicalId]["Events"]?.AsObject().Select(e => e.Value).FirstOrDefault(e => e?["Type"]?.GetValue<string>() == "SQS")?["Properties"];
        return new EventSourceOptions
        {
            BatchSize = sqs?["BatchSize"] is { } size ? int.Parse(size.ToString(), System.Globalization.CultureInfo.InvariantCulture) : 10,
            BatchingWindow = TimeSpan.Zero,
            Concurrency = sqs?["ScalingConfig"]?["MaximumConcurrency"] is { } c ? int.Parse(c.ToString(), System.Globalization.CultureInfo.InvariantCulture) : 2,
        };
    }

    /// <summary>The event source that polls the import queue and invokes <paramref name="invoke"/>.</summary>
    public static SqsEventSource EventSource(LocalAws aws, ProvisionedResources stack, Func<byte[], CancellationToken, Task<byte[]>> invoke, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(aws);
        ArgumentNullException.ThrowIfNull(stack);
        var queue = stack.Resources["ImportQueue"];
        return new SqsEventSource(aws.Sqs, queue.Ref, queue.Attributes["Arn"], aws.Endpoints.Region, invoke, Options(stack), log);
    }

    /// <summary>The S3 notifications of the template's buckets (the imports bucket's), delivered by watching their listings.</summary>
    public static BucketWatcher Notifications(LocalAws aws, ProvisionedResources stack, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(aws);
        var template = File.ReadAllText(RepositoryPaths.Discover().Template);
        return new BucketWatcher(aws.S3, aws.Sqs, QueueNotification.FromTemplate(template, stack, aws.Endpoints.Region), aws.Endpoints.Region, log);
    }
}
