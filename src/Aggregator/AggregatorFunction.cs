using System.Globalization;
using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Lambda;
using Pipeline.Sns;

namespace Pipeline.Aggregator;

/// <summary>
/// The function, invoked by the schedule: publishes summaries a previous run stored but did not publish, then summarizes,
/// stores and publishes every complete window since the last one, oldest first. <c>Program.cs</c> builds it once per
/// process and serves it through the Lambda Runtime API.
/// </summary>
public sealed class AggregatorFunction
{
    private readonly AggregatorOptions _options;
    private readonly WindowReader _reader;
    private readonly ArchiveWriter _archive;
    private readonly SummaryStore _store;
    private readonly SnsClient _sns;
    private readonly TimeProvider _clock;
    private readonly FunctionLog _log;

    /// <summary>A function on the given clients.</summary>
    public AggregatorFunction(AggregatorOptions options, IAmazonDynamoDB dynamoDb, IAmazonS3 s3, IAmazonSQS sqs, SnsClient sns, TimeProvider clock, FunctionLog log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _reader = new WindowReader(s3, sqs, options.BucketName, options.DeadLetterQueueUrl);
        _archive = new ArchiveWriter(sqs, s3, options, log);
        _store = new SummaryStore(dynamoDb, options.SummariesTable);
        _sns = sns;
        _clock = clock;
        _log = log;
    }

    /// <summary>
    /// Handles a scheduled event (its content is not needed: the run works from the clock and the stored summaries).
    /// The run stops a second before the deadline; what it did not reach, the next run does.
    /// </summary>
    public async Task<byte[]> HandleAsync(byte[] payload, LambdaContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        _log.RequestId = context.RequestId;
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(context.Deadline - _clock.GetUtcNow() - TimeSpan.FromSeconds(1));
        var run = await RunAsync(budget.Token).ConfigureAwait(false);
        return JsonSerializer.SerializeToUtf8Bytes(run, SummaryJsonContext.Default.AggregatorRun);
    }

    /// <summary>
    /// One run: writes the events stored since the last run to the archive; publishes what a previous run stored but did
    /// not publish; summarizes the windows now complete; and counts again the windows that ended within the look-back,
    /// publishing a revised summary where events arrived late.
    /// </summary>
    public async Task<AggregatorRun> RunAsync(CancellationToken cancellationToken)
    {
        var published = new List<DateTimeOffset>();
        foreach (var summary in await _store.UnpublishedAsync(cancellationToken).ConfigureAwait(false))
        {
            await PublishAsync(summary, cancellationToken).ConfigureAwait(false);
            published.Add(summary.WindowStart);
        }

        // The events stored since the last run go to the archive first: the windows are counted from it (D10).
        var archived = await _archive.DrainAsync(cancellationToken).ConfigureAwait(false);
        _reader.Reset();
        long read = 0;
        var now = _clock.GetUtcNow();
        var lastEnd = await _store.LatestWindowEndAsync(cancellationToken).ConfigureAwait(false);
        // The first run of a deployment looks back as far as revisions do: a first run that failed (an outage) must not
        // leave the events of its window in no summary. Leading empty windows are history before the deployment: skipped.
        var firstSeries = lastEnd is null;
        var due = firstSeries
            ? [.. SummaryWindows.Due(now, _options.Window, _options.Settle, now - _options.Settle - _options.Lookback, int.MaxValue).TakeLast(_options.MaxWindowsPerRun)]
            : SummaryWindows.Due(now, _options.Window, _options.Settle, lastEnd, _options.MaxWindowsPerRun);
        foreach (var window in due)
        {
            var (summary, cost) = await SummarizeAsync(window, 0, cancellationToken).ConfigureAwait(false);
            read += cost;
            if (firstSeries && summary.TotalEvents == 0 && window != due[^1])
            {
                continue;
            }
            firstSeries = false;
            if (await _store.StoreAsync(summary, cancellationToken).ConfigureAwait(false))
            {
                await PublishAsync(summary, cancellationToken).ConfigureAwait(false);
                published.Add(summary.WindowStart);
            }
        }

        // Late events: a record retried after its window was summarized is stored with a receive time in that window.
        var lookbackStart = now - _options.Settle - _options.Lookback;
        foreach (var stored in await _store.EndingAfterAsync(lookbackStart, cancellationToken).ConfigureAwait(false))
        {
            if (due.Any(w => w.Start == stored.WindowStart) || stored.WindowEnd + _options.Settle > now)
            {
                continue;
            }
            var (revised, cost) = await SummarizeAsync(new SummaryWindow(stored.WindowStart, stored.WindowEnd), stored.Revision + 1, cancellationToken).ConfigureAwait(false);
            read += cost;
            if (revised.TotalEvents != stored.TotalEvents && await _store.ReviseAsync(revised, stored.Revision, cancellationToken).ConfigureAwait(false))
            {
                _log.Write("INFO", FormattableString.Invariant($"Window {stored.WindowStart:u}: {revised.TotalEvents - stored.TotalEvents} late event(s); revision {revised.Revision}"));
                await PublishAsync(revised, cancellationToken).ConfigureAwait(false);
                published.Add(revised.WindowStart);
            }
        }
        _log.Write("INFO", FormattableString.Invariant($"Aggregator run: archived {archived} event(s), read {read} archived event(s), published {published.Count} summary(ies)"));
        return new AggregatorRun(published, archived, read);
    }

    private async Task<(Summary Summary, long EventsRead)> SummarizeAsync(SummaryWindow window, int revision, CancellationToken cancellationToken)
    {
        var counts = await _reader.CountEventsAsync(window, cancellationToken).ConfigureAwait(false);
        // Event types are the clients' to choose: list the most frequent, total the rest, so a summary always fits SNS's 256 KB.
        var top = counts.ByEventType.OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal).Take(_options.TopEventTypes).ToList();
        var summary = new Summary
        {
            WindowStart = window.Start,
            WindowEnd = window.End,
            TotalEvents = counts.Total,
            ByEventType = new SortedDictionary<string, long>(top.ToDictionary(t => t.Key, t => t.Value), StringComparer.Ordinal),
            EventTypes = counts.ByEventType.Count,
            OtherEvents = counts.Total - top.Sum(t => t.Value),
            UniqueUsers = counts.UniqueUsers,
            UniqueAnonymousIds = counts.UniqueAnonymousIds,
            Rejected = await _reader.CountRejectedAsync(window, cancellationToken).ConfigureAwait(false),
            DeadLetterDepth = await _reader.DeadLetterDepthAsync(cancellationToken).ConfigureAwait(false),
            GeneratedAt = _clock.GetUtcNow(),
            Revision = revision,
        };
        return (summary, counts.EventsRead);
    }

    private async Task PublishAsync(Summary summary, CancellationToken cancellationToken)
    {
        var start = summary.WindowStart.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        var end = summary.WindowEnd.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        var messageId = await _sns.PublishAsync(
            _options.TopicArn,
            JsonSerializer.Serialize(summary, SummaryJsonContext.Default.Summary),
            summary.Revision == 0 ? $"Event summary {start} to {end} UTC" : $"Event summary {start} to {end} UTC (revision {summary.Revision})",
            new Dictionary<string, string>
            {
                ["windowStart"] = summary.WindowStart.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                ["windowEnd"] = summary.WindowEnd.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                ["totalEvents"] = summary.TotalEvents.ToString(CultureInfo.InvariantCulture),
                ["revision"] = summary.Revision.ToString(CultureInfo.InvariantCulture),
            },
            cancellationToken).ConfigureAwait(false);
        await _store.MarkPublishedAsync(summary, messageId, cancellationToken).ConfigureAwait(false);
    }
}
