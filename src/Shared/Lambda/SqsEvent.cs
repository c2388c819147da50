using System.Text.Json.Serialization;

namespace Pipeline.Lambda;

/// <summary>
/// The event Lambda's SQS event source mapping delivers (documented at
/// https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html). Modelled here rather than taken from
/// Amazon.Lambda.SQSEvents, which this environment cannot obtain (docs/architecture.md, D3).
/// </summary>
public sealed record SqsEvent
{
    /// <summary>The messages of the batch.</summary>
    [JsonPropertyName("Records")]
    public IReadOnlyList<SqsMessage> Records { get; init; } = [];
}

/// <summary>One SQS message as Lambda delivers it.</summary>
public sealed record SqsMessage
{
    /// <summary>The message id: what <see cref="BatchItemFailure.ItemIdentifier"/> names.</summary>
    public string MessageId { get; init; } = "";

    /// <summary>The receipt handle of this delivery.</summary>
    public string ReceiptHandle { get; init; } = "";

    /// <summary>The body.</summary>
    public string? Body { get; init; }

    /// <summary>System attributes (ApproximateReceiveCount, SentTimestamp, ...).</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();

    /// <summary>Message attributes.</summary>
    public IReadOnlyDictionary<string, SqsMessageAttributeValue> MessageAttributes { get; init; } = new Dictionary<string, SqsMessageAttributeValue>();

    /// <summary>MD5 of the body.</summary>
    public string? Md5OfBody { get; init; }

    /// <summary>Always <c>aws:sqs</c>.</summary>
    public string? EventSource { get; init; }

    /// <summary>The queue's ARN.</summary>
    [JsonPropertyName("eventSourceARN")]
    public string? EventSourceArn { get; init; }

    /// <summary>The queue's region.</summary>
    public string? AwsRegion { get; init; }
}

/// <summary>A message attribute as Lambda delivers it.</summary>
public sealed record SqsMessageAttributeValue
{
    /// <summary>String value.</summary>
    public string? StringValue { get; init; }

    /// <summary>Binary value, base64.</summary>
    public string? BinaryValue { get; init; }

    /// <summary>Unused by SQS; present in Lambda's shape.</summary>
    public IReadOnlyList<string> StringListValues { get; init; } = [];

    /// <summary>Unused by SQS; present in Lambda's shape.</summary>
    public IReadOnlyList<string> BinaryListValues { get; init; } = [];

    /// <summary>String, Number or Binary (optionally with a custom suffix).</summary>
    public string DataType { get; init; } = "String";
}

/// <summary>The partial batch response (ReportBatchItemFailures): the messages to redeliver.</summary>
public sealed record SqsBatchResponse
{
    /// <summary>The failed messages; all others are deleted from the queue.</summary>
    public IReadOnlyList<BatchItemFailure> BatchItemFailures { get; init; } = [];
}

/// <summary>One message to redeliver.</summary>
/// <param name="ItemIdentifier">Its message id.</param>
public sealed record BatchItemFailure(string ItemIdentifier);

/// <summary>Source-generated JSON for the Lambda shapes (camelCase, as Lambda writes them).</summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SqsEvent))]
[JsonSerializable(typeof(SqsBatchResponse))]
public sealed partial class LambdaJsonContext : JsonSerializerContext;
