using System.Globalization;
using System.Text.Json;
using Amazon;
using Amazon.DynamoDBv2;
using Amazon.Runtime.Credentials;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Sns;

namespace Pipeline.Aggregator;

/// <summary>
/// The Lambda entry point (handler <c>Pipeline.Aggregator::Pipeline.Aggregator.AggregatorFunction::Handler</c>),
/// invoked by the schedule: publishes summaries a previous run stored but did not publish, then summarizes,
/// stores and publishes every complete window since the last one, oldest first.
/// </summary>
public sealed class AggregatorFunction
{
    private readonly AggregatorOptions _options;
    private readonly WindowReader _reader;
    private readonly SummaryStore _store;
    private readonly SnsClient _sns;
    private readonly TimeProvider _clock;
    private readonly TextWriter _log;

    /// <summary>The constructor Lambda uses: settings from the environment, clients and credentials from the SDK's defaults.</summary>
    public AggregatorFunction()
        : this(AggregatorOptions.FromEnvironment(), new AmazonDynamoDBClient(), new AmazonS3Client(), new AmazonSQSClient(),
            SnsClient.Create(DefaultAWSCredentialsIdentityResolver.GetCredentials(), Amazon.Runtime.FallbackRegionFactory.GetRegionEndpoint()),
            TimeProvider.System, Console.Out)
    {
    }

    /// <summary>The constructor the tests and the local host use.</summary>
    public AggregatorFunction(AggregatorOptions options, IAmazonDynamoDB dynamoDb, IAmazonS3 s3, IAmazonSQS sqs, SnsClient sns, TimeProvider clock, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _reader = new WindowReader(dynamoDb, s3, sqs, options);
        _store = new SummaryStore(dynamoDb, options.SummariesTable);
        _sns = sns;
        _clock = clock;
        _log = log;
    }

    /// <summary>Handles a scheduled event (its content is not needed: the run works from the clock and the stored summaries).</summary>
    public async Task<Stream> Handler(Stream input)
    {
        var run = await RunAsync(CancellationToken.None).ConfigureAwait(false);
        var output = new MemoryStream();
        await JsonSerializer.SerializeAsync(output, run, SummaryJsonContext.Default.AggregatorRun).ConfigureAwait(false);
        output.Position = 0;
        return output;
    }

    /// <summary>One run.</summary>
    public async Task<AggregatorRun> RunAsync(CancellationToken cancellationToken)
    {
        var published = new List<DateTimeOffset>();
        foreach (var summary in await _store.UnpublishedAsync(cancellationToken).ConfigureAwait(false))
        {
            await PublishAsync(summary, cancellationToken).ConfigureAwait(false);
            published.Add(summary.WindowStart);
        }

        double capacity = 0;
        var lastEnd = await _store.LatestWindowEndAsync(cancellationToken).ConfigureAwait(false);
        foreach (var window in SummaryWindows.Due(_clock.GetUtcNow(), _options.Window, _options.Settle, lastEnd, _options.MaxWindowsPerRun))
        {
            var counts = await _reader.CountEventsAsync(window, cancellationToken).ConfigureAwait(false);
            capacity += counts.ReadCapacityUnits;
            var summary = new Summary
            {
                WindowStart = window.Start,
                WindowEnd = window.End,
                TotalEvents = counts.Total,
                ByEventType = counts.ByEventType,
                UniqueUsers = counts.UniqueUsers,
                UniqueAnonymousIds = counts.UniqueAnonymousIds,
                Rejected = await _reader.CountRejectedAsync(window, cancellationToken).ConfigureAwait(false),
                DeadLetterDepth = await _reader.DeadLetterDepthAsync(cancellationToken).ConfigureAwait(false),
                GeneratedAt = _clock.GetUtcNow(),
            };
            if (await _store.StoreAsync(summary, cancellationToken).ConfigureAwait(false))
            {
                await PublishAsync(summary, cancellationToken).ConfigureAwait(false);
                published.Add(summary.WindowStart);
            }
        }
        _log.WriteLine(FormattableString.Invariant(
            $$"""{"level":"Information","message":"Aggregator run","published":{{published.Count}},"readCapacityUnits":{{capacity}}}"""));
        return new AggregatorRun(published, capacity);
    }

    private async Task PublishAsync(Summary summary, CancellationToken cancellationToken)
    {
        var start = summary.WindowStart.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        var end = summary.WindowEnd.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        var messageId = await _sns.PublishAsync(
            _options.TopicArn,
            JsonSerializer.Serialize(summary, SummaryJsonContext.Default.Summary),
            $"Event summary {start} to {end} UTC",
            new Dictionary<string, string>
            {
                ["windowStart"] = summary.WindowStart.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                ["windowEnd"] = summary.WindowEnd.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                ["totalEvents"] = summary.TotalEvents.ToString(CultureInfo.InvariantCulture),
            },
            cancellationToken).ConfigureAwait(false);
        await _store.MarkPublishedAsync(summary, messageId, cancellationToken).ConfigureAwait(false);
    }
}
