using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.SQS;
using DuckDB.NET.Data;
using Pipeline.Archive;
using Pipeline.Faults;
using Pipeline.Lambda;
using Pipeline.Metrics;
using Pipeline.Sns;
using Pipeline.Storage;

namespace Pipeline.Aggregator;

/// <summary>The steps of an Aggregator run, between which a test can stop it.</summary>
public enum RunStep
{
    /// <summary>The late markers are listed; no hour is listed yet.</summary>
    MarkersListed,
}

/// <summary>
/// The function, invoked by the schedule: counts the complete windows since the last one, the windows still within
/// their look-back, and the windows of late markers, from the S3 archive; stores each summary, then publishes what is
/// stored and not yet published; then compacts the hours no window will count again. <c>Program.cs</c> builds it once per process and serves it through the Lambda Runtime API.
/// </summary>
public sealed class AggregatorFunction : IDisposable
{
    private readonly AggregatorOptions _options;
    private readonly IAmazonS3 _s3;
    private readonly IAmazonSQS _sqs;
    private readonly IAmazonDynamoDB _dynamoDb;
    private readonly SummaryStore _store;
    private readonly SnsClient _sns;
    private readonly TimeProvider _clock;
    private readonly FunctionLog _log;
    // Each function object's files are in a folder of its own under the root; folders of no live object (a process stopped
    // by its time-out left them, and Lambda keeps /tmp for the next process) are deleted at the next run.
    private static readonly ConcurrentDictionary<string, bool> LiveFolders = new();
    private readonly string _root;
    private readonly string _folder;
    private readonly Lazy<DuckDBConnection> _duckDb;
    private readonly Func<RunStep, CancellationToken, Task>? _runPause;
    private readonly Func<CompactionStep, CancellationToken, Task>? _compactionPause;

    /// <summary>
    /// A function on the given clients; its files go under <paramref name="root"/> (default: the system's temporary
    /// folder). A test can stop a run between its steps (<paramref name="runPause"/>) and its compactions between theirs.
    /// </summary>
    public AggregatorFunction(AggregatorOptions options, IAmazonDynamoDB dynamoDb, IAmazonS3 s3, IAmazonSQS sqs, SnsClient sns, TimeProvider clock, FunctionLog log, string? root = null,
        Func<RunStep, CancellationToken, Task>? runPause = null, Func<CompactionStep, CancellationToken, Task>? compactionPause = null)
    {
        _runPause = runPause;
        _compactionPause = compactionPause;
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _s3 = s3;
        _sqs = sqs;
        _dynamoDb = dynamoDb;
        _store = new SummaryStore(dynamoDb, options.SummariesTable, clock);
        _sns = sns;
        _clock = clock;
        _log = log;
        _root = root ?? Path.Combine(Path.GetTempPath(), "pipeline-aggregator");
        var name = Guid.NewGuid().ToString("N");
        LiveFolders[name] = true;
        _folder = Path.Combine(_root, name);
        // DuckDB is loaded by the first count, not at start: the process answers its first GET /next sooner.
        _duckDb = new(() => DuckDb.Open(Path.Combine(_folder, "duckdb"), DuckDbLimits.FromEnvironment()));
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
    /// One run, in this order: (1) summarizes and stores the windows complete since the last one; (2) counts again every
    /// window that the previous complete run found within its look-back (so the first run after a window's end + settle
    /// + look-back counts it a last time), and the windows of the hours the Processor marked late, storing a revision
    /// where the count changed; (3) publishes every stored, unpublished summary, oldest first; (4) compacts the hours past
    /// their look-back (docs/architecture.md, D17). An SNS fault stops only the publishing, which the next run repeats;
    /// counting and storing never wait for it.
    /// </summary>
    public async Task<AggregatorRun> RunAsync(CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        DeleteLeftovers();
        using var archive = new ArchiveDownloads(_s3, _options.BucketName, Path.Combine(_folder, $"archive-{Guid.NewGuid():N}"));
        var counted = new Dictionary<DateTimeOffset, Summary>(); // to publish
        var recounted = new HashSet<DateTimeOffset>(); // counted by this run, successfully
        var failures = new List<string>();
        long read = 0;

        // One snapshot: the late markers first, then the hours. A marker that lands later in the run is left for the next
        // run, with the object it announces, however this run's listings of the hours saw that object (D10).
        var markers = await LateMarkersAsync(cancellationToken).ConfigureAwait(false);
        await Pause(RunStep.MarkersListed, cancellationToken).ConfigureAwait(false);

        var lastEnd = await _store.LatestWindowEndAsync(cancellationToken).ConfigureAwait(false);
        // The first run of a deployment looks back as far as revisions do: a first run that failed (an outage) must not
        // leave the events of its window in no summary. Leading empty windows are history before the deployment: skipped.
        var firstSeries = lastEnd is null;
        var due = lastEnd is { } end
            ? SummaryWindows.Due(now, _options.Window, _options.Settle, end, _options.MaxWindowsPerRun)
            : [.. SummaryWindows.Due(now, _options.Window, _options.Settle, now - _options.Settle - _options.Lookback, int.MaxValue).TakeLast(_options.MaxWindowsPerRun)];
        foreach (var window in due)
        {
            // A window that cannot be counted stops the series here (the next run starts from it); the other steps go on.
            var stored = await TryAsync(failures, $"count {window.Start:u}", async () =>
            {
                var (counts, fingerprint) = await CountAsync(archive, window, null, cancellationToken).ConfigureAwait(false);
                read += counts!.EventsRead;
                var summary = await SummaryAsync(window, counts, 0, cancellationToken).ConfigureAwait(false);
                if (firstSeries && summary.TotalEvents == 0 && window != due[^1])
                {
                    return;
                }
                firstSeries = false;
                if (await _store.StoreAsync(summary, fingerprint, cancellationToken).ConfigureAwait(false))
                {
                    counted[window.Start] = summary;
                }
                recounted.Add(window.Start);
            }, cancellationToken).ConfigureAwait(false);
            if (!stored)
            {
                break;
            }
        }

        // Within the look-back: every window the previous complete run still had to count again (D10).
        var previousRun = await _store.LastRunStartAsync(cancellationToken).ConfigureAwait(false) ?? now;
        foreach (var stored in await _store.EndingAfterAsync(previousRun - _options.Settle - _options.Lookback, cancellationToken).ConfigureAwait(false))
        {
            if (!recounted.Contains(stored.Summary.WindowStart) && stored.Summary.WindowEnd + _options.Settle <= now)
            {
                await TryAsync(failures, $"revise {stored.Summary.WindowStart:u}",
                    async () => read += await ReviseAsync(archive, stored, counted, recounted, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            }
        }

        // Past the look-back: the hours the Processor marked late (a redrive, an S3 outage); a marker goes once its hour's
        // windows are counted and published, so a failed one is counted again by the next run.
        var settled = new List<string>();
        foreach (var (hour, keys) in markers)
        {
            var whole = true;
            for (var window = SummaryWindows.Containing(hour, _options.Window); window.Start < hour.AddHours(1); window = new(window.End, window.End + _options.Window))
            {
                var start = window.Start;
                if (recounted.Contains(start) || window.End + _options.Settle > now)
                {
                    continue;
                }
                whole &= await TryAsync(failures, $"revise {start:u} (late)", async () =>
                {
                    if (await _store.GetAsync(start, cancellationToken).ConfigureAwait(false) is { } stored)
                    {
                        read += await ReviseAsync(archive, stored, counted, recounted, cancellationToken).ConfigureAwait(false);
                    }
                }, cancellationToken).ConfigureAwait(false);
            }
            if (whole)
            {
                settled.AddRange(keys);
            }
        }
        if (failures.Count == 0)
        {
            // A complete run: the next one revises what this one had within its look-back. A run whose counting failed is
            // not recorded, so the next one revises, again, every window the last complete run had within its look-back.
            await _store.RecordRunAsync(now, cancellationToken).ConfigureAwait(false);
        }

        var (published, all) = await PublishPendingAsync(counted.Values, cancellationToken).ConfigureAwait(false);
        if (all)
        {
            // Only once their revisions are out: a marker left counts its windows again, and publishes what is unpublished.
            await DeleteAsync(settled, cancellationToken).ConfigureAwait(false);
        }
        archive.Dispose(); // the counting's downloads, before compaction needs the disk
        var compacted = await CompactAsync(now, failures, cancellationToken).ConfigureAwait(false);
        // Past the deadline too (the SDK's time-outs bound it): what status shows, and the metric, must not be lost with it.
        await _store.RecordFailuresAsync(now, failures, CancellationToken.None).ConfigureAwait(false);
        EmbeddedMetrics.Write(_log.Output, _clock, "Aggregator", new Dictionary<string, double> { [FailureMetric] = failures.Count });
        _log.Write(failures.Count == 0 ? "INFO" : "ERROR", FormattableString.Invariant(
            $"Aggregator run: counted {counted.Count} window(s) from {read} archived event(s), {markers.Count} late hour(s), published {published.Count} summary(ies), compacted {compacted} hour(s), {failures.Count} failure(s){(failures.Count == 0 ? "" : ": " + string.Join("; ", failures))}"));
        return new AggregatorRun(published, read, markers.Count, compacted, failures);
    }

    /// <summary>The metric counting a run's failed steps (a window not counted, an hour not compacted, a lost lease); an alarm watches it.</summary>
    public const string FailureMetric = "AggregatorFailures";

    /// <summary>
    /// Compacts, oldest first, each hour with raw objects whose every window is past its look-back (a late write into a
    /// compacted hour leaves raw objects, so it is compacted again). Last in the run, so the deadline stops it first: an
    /// hour cut short is left as it was for the next run. An hour that fails is reported and the next one goes on.
    /// </summary>
    private async Task<int> CompactAsync(DateTimeOffset now, List<string> failures, CancellationToken cancellationToken)
    {
        var compacted = 0;
        var compactor = new HourCompactor(_s3, _options.BucketName, _duckDb.Value, new HourLease(_dynamoDb, _options.SummariesTable, _clock), _folder,
            clock: _clock, pause: _compactionPause);
        try
        {
            foreach (var hour in await compactor.HoursAsync(cancellationToken).ConfigureAwait(false))
            {
                var lastWindow = SummaryWindows.Containing(hour.AddHours(1).AddTicks(-1), _options.Window);
                if (lastWindow.End + _options.Settle + _options.Lookback > now)
                {
                    break;
                }
                var started = _clock.GetTimestamp();
                await TryAsync(failures, $"compact {EventLayout.Partition(hour)}", async () =>
                {
                    switch (await compactor.CompactAsync(hour, cancellationToken).ConfigureAwait(false))
                    {
                        case { LeaseLost: true }:
                            throw new InvalidOperationException("the lease was lost before the deletes (the run stalled past it); its file is a duplicate the next compaction folds, and nothing was deleted");
                        case { } done:
                            compacted++;
                            _log.Write("INFO", FormattableString.Invariant(
                                $"Compacted {EventLayout.Partition(hour)}: {done.RawObjects} object(s), {done.Events} event(s), {done.Bytes} bytes of Parquet, in {_clock.GetElapsedTime(started).TotalMilliseconds:0} ms"));
                            break;
                    }
                }, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _log.Write("WARN", "Compaction stopped at the run's deadline; the next run goes on from the hour it was in.");
        }
        return compacted;
    }

    // Runs one step of the run; a failure (not the deadline) is logged and listed, and the run goes on.
    private async Task<bool> TryAsync(List<string> failures, string step, Func<Task> action, CancellationToken cancellationToken)
    {
        try
        {
            await action().ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            _log.Write("ERROR", $"{step} failed; the next run tries again: {e.GetType().Name}: {e.Message}");
            failures.Add($"{step}: {e.Message}");
            return false;
        }
    }

    private Task Pause(RunStep step, CancellationToken cancellationToken) => _runPause?.Invoke(step, cancellationToken) ?? Task.CompletedTask;

    // Counts a stored window again; stores a revision if the count changed, or re-publishes an unpublished one. Returns the lines read.
    private async Task<long> ReviseAsync(ArchiveDownloads archive, StoredSummary stored, Dictionary<DateTimeOffset, Summary> counted, HashSet<DateTimeOffset> recounted,
        CancellationToken cancellationToken)
    {
        var previous = stored.Summary;
        if (!stored.Published)
        {
            counted[previous.WindowStart] = previous; // stored by an earlier run that could not publish it
        }
        var (counts, fingerprint) = await CountAsync(archive, new SummaryWindow(previous.WindowStart, previous.WindowEnd), stored.Fingerprint, cancellationToken).ConfigureAwait(false);
        if (counts is null)
        {
            recounted.Add(previous.WindowStart);
            return 0; // the archive of its hours is as it was when it was counted
        }
        var revised = await SummaryAsync(new SummaryWindow(previous.WindowStart, previous.WindowEnd), counts, previous.Revision + 1, cancellationToken).ConfigureAwait(false);
        if (Same(revised, previous))
        {
            await _store.ConfirmAsync(previous.WindowStart, previous.Revision, fingerprint, cancellationToken).ConfigureAwait(false);
        }
        else if (await _store.ReviseAsync(revised, previous.Revision, fingerprint, cancellationToken).ConfigureAwait(false))
        {
            _log.Write("INFO", FormattableString.Invariant($"Window {previous.WindowStart:u}: {revised.TotalEvents - previous.TotalEvents} late event(s); revision {revised.Revision}"));
            counted[revised.WindowStart] = revised;
        }
        recounted.Add(previous.WindowStart);
        return counts.EventsRead;
    }

    private static bool Same(Summary a, Summary b) =>
        a.TotalEvents == b.TotalEvents && a.Rejected == b.Rejected && a.UniqueUsers == b.UniqueUsers && a.UniqueAnonymousIds == b.UniqueAnonymousIds && a.EventTypes == b.EventTypes
        && a.ByEventType.Count == b.ByEventType.Count && a.ByEventType.All(t => b.ByEventType.TryGetValue(t.Key, out var n) && n == t.Value);

    // The window's counts and the fingerprint of the archive they come from; null counts if the fingerprint is unchanged.
    private async Task<(WindowCounts? Counts, string Fingerprint)> CountAsync(ArchiveDownloads archive, SummaryWindow window, string? unchangedFrom, CancellationToken cancellationToken)
    {
        var hours = ArchiveReader.Hours(window.Start, window.End).ToList();
        var fingerprint = await archive.FingerprintAsync(hours, cancellationToken).ConfigureAwait(false);
        if (fingerprint == unchangedFrom)
        {
            return (null, fingerprint);
        }
        var files = HourFiles.None;
        foreach (var hour in hours)
        {
            files = files.Concat(await archive.DownloadAsync(hour, cancellationToken).ConfigureAwait(false));
        }
        return (await new WindowCounter(_duckDb.Value).CountAsync(files, window, cancellationToken).ConfigureAwait(false), fingerprint);
    }

    private async Task<Summary> SummaryAsync(SummaryWindow window, WindowCounts counts, int revision, CancellationToken cancellationToken)
    {
        // Event types are the clients' to choose: list the most frequent, total the rest, so a summary always fits SNS's 256 KB.
        var top = counts.ByEventType.OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal).Take(_options.TopEventTypes).ToList();
        return new Summary
        {
            WindowStart = window.Start,
            WindowEnd = window.End,
            TotalEvents = counts.Total,
            ByEventType = new SortedDictionary<string, long>(top.ToDictionary(t => t.Key, t => t.Value), StringComparer.Ordinal),
            EventTypes = counts.ByEventType.Count,
            PlanViolations = new SortedDictionary<string, long>(counts.FlaggedByEventType.OrderByDescending(t => t.Value).ThenBy(t => t.Key, StringComparer.Ordinal)
                .Take(_options.TopEventTypes).ToDictionary(t => t.Key, t => t.Value), StringComparer.Ordinal),
            OtherEvents = counts.Total - top.Sum(t => t.Value),
            UniqueUsers = counts.UniqueUsers,
            UniqueAnonymousIds = counts.UniqueAnonymousIds,
            Rejected = await ArchiveListing.RejectedAsync(_s3, _options.BucketName, window.Start, window.End, cancellationToken).ConfigureAwait(false),
            DeadLetterDepth = (await _sqs.GetQueueAttributesAsync(_options.DeadLetterQueueUrl, ["ApproximateNumberOfMessages"], cancellationToken).ConfigureAwait(false)).ApproximateNumberOfMessages,
            GeneratedAt = _clock.GetUtcNow(),
            Revision = revision,
        };
    }

    // The late markers, by hour, oldest first.
    private async Task<List<(DateTimeOffset Hour, List<string> Keys)>> LateMarkersAsync(CancellationToken cancellationToken) =>
        [.. (await ArchiveListing.ListAsync(_s3, _options.BucketName, EventLayout.LateRoot, cancellationToken).ConfigureAwait(false))
            .Select(o => (Hour: EventLayout.HourOf(o.Key), o.Key)).Where(m => m.Hour is not null)
            .GroupBy(m => m.Hour!.Value).OrderBy(g => g.Key).Select(g => (g.Key, g.Select(m => m.Key).ToList()))];

    private async Task DeleteAsync(List<string> keys, CancellationToken cancellationToken)
    {
        foreach (var key in keys)
        {
            await _s3.DeleteObjectAsync(_options.BucketName, key, cancellationToken).ConfigureAwait(false);
        }
    }

    // Publishes this run's summaries and those earlier runs stored but did not publish, oldest first; an SNS fault leaves
    // the rest stored for the next run.
    private async Task<(List<DateTimeOffset> Published, bool All)> PublishPendingAsync(IEnumerable<Summary> counted, CancellationToken cancellationToken)
    {
        var pending = new SortedDictionary<DateTimeOffset, Summary>();
        foreach (var summary in (await _store.UnpublishedAsync(cancellationToken).ConfigureAwait(false)).Concat(counted))
        {
            pending[summary.WindowStart] = summary;
        }
        var published = new List<DateTimeOffset>();
        foreach (var summary in pending.Values)
        {
            try
            {
                await PublishAsync(summary, cancellationToken).ConfigureAwait(false);
                published.Add(summary.WindowStart);
            }
            catch (Exception e) when (AwsFaults.IsServiceFailure(e, cancellationToken))
            {
                _log.Write("ERROR", FormattableString.Invariant($"Could not publish the summary of {summary.WindowStart:u}; the next run publishes it: {e.Message}"));
                return (published, false);
            }
        }
        return (published, true);
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

    private void DeleteLeftovers()
    {
        if (!Directory.Exists(_root))
        {
            return;
        }
        foreach (var folder in Directory.EnumerateDirectories(_root).Where(f => !LiveFolders.ContainsKey(Path.GetFileName(f))))
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Write("WARN", $"Could not delete {folder}: {e.Message}");
            }
        }
    }

    /// <summary>Closes DuckDB, if it was opened, and deletes this object's files.</summary>
    public void Dispose()
    {
        if (_duckDb.IsValueCreated)
        {
            _duckDb.Value.Dispose();
        }
        LiveFolders.TryRemove(Path.GetFileName(_folder), out _);
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
