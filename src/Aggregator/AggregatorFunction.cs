using System.Globalization;
using System.Text.Json;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.SQS;
using Pipeline.Archive;
using Pipeline.Lambda;
using Pipeline.Metrics;
using Pipeline.Sns;

using Pipeline.Summaries;

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
/// The parts: <see cref="LateMarkers"/>, <see cref="CountingRun"/> (with <see cref="WindowSummarizer"/>),
/// <see cref="SummaryPublisher"/> and <see cref="CompactionRun"/>, each step isolated by <see cref="RunFailures"/>, their
/// files in <see cref="ScratchSpace"/>.
/// </summary>
public sealed class AggregatorFunction : IDisposable
{
    /// <summary>The metric counting a run's failed steps (a window not counted, an hour not compacted, a lost lease); an alarm watches it.</summary>
    public const string FailureMetric = "AggregatorFailures";

    private readonly AggregatorOptions _options;
    private readonly IAmazonS3 _s3;
    private readonly SummaryStore _store;
    private readonly TimeProvider _clock;
    private readonly FunctionLog _log;
    private readonly ScratchSpace _scratch;
    private readonly LateMarkers _markers;
    private readonly WindowSummarizer _summarizer;
    private readonly SummaryPublisher _publisher;
    private readonly CompactionRun _compaction;
    private readonly Func<RunStep, CancellationToken, Task>? _runPause;

    /// <summary>
    /// A function on the given clients; its files go under <paramref name="root"/> (default: the system's temporary
    /// folder). A test can stop a run between its steps (<paramref name="runPause"/>) and its compactions between theirs.
    /// </summary>
    public AggregatorFunction(
        AggregatorOptions options, IAmazonDynamoDB dynamoDb, IAmazonS3 s3, IAmazonSQS sqs, SnsClient sns, TimeProvider clock, FunctionLog log,
        string? root = null,
        Func<RunStep, CancellationToken, Task>? runPause = null,
        Func<CompactionStep, CancellationToken, Task>? compactionPause = null)
    {
        _runPause = runPause;
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _s3 = s3;
        _store = new SummaryStore(dynamoDb, options.SummariesTable, clock);
        _clock = clock;
        _log = log;
        _scratch = new ScratchSpace(root, log);
        _markers = new LateMarkers(s3, options.BucketName);
        _summarizer = new WindowSummarizer(options, s3, sqs, clock, _scratch);
        _publisher = new SummaryPublisher(sns, options.TopicArn, _store, log);
        _compaction = new CompactionRun(options, s3, dynamoDb, _scratch, clock, log, compactionPause);
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
        budget.CancelAfterOrNow(context.Deadline - _clock.GetUtcNow() - TimeSpan.FromSeconds(1));
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
        _scratch.DeleteLeftovers();
        using var archive = new ArchiveDownloads(_s3, _options.BucketName, Path.Combine(_scratch.Folder, $"archive-{Guid.NewGuid():N}"));
        var failures = new RunFailures(_log);
        var counting = new CountingRun(_options, _store, _summarizer, archive, failures, _log);

        // One snapshot: the late markers first, then the hours. A marker that lands later in the run is left for the next
        // run, with the object it announces, however this run's listings of the hours saw that object (D10).
        var markers = await _markers.ListAsync(cancellationToken).ConfigureAwait(false);
        await Pause(RunStep.MarkersListed, cancellationToken).ConfigureAwait(false);

        await counting.CountDueAsync(now, cancellationToken).ConfigureAwait(false);
        await counting.ReviseLookbackAsync(now, cancellationToken).ConfigureAwait(false);
        // A marker goes once its hour's windows are counted and published, so a failed one is counted again by the next run.
        var settled = await counting.ReviseLateAsync(markers, now, cancellationToken).ConfigureAwait(false);
        if (failures.Count == 0)
        {
            // A complete run: the next one revises what this one had within its look-back. A run whose counting failed is
            // not recorded, so the next one revises, again, every window the last complete run had within its look-back.
            await _store.RecordRunAsync(now, cancellationToken).ConfigureAwait(false);
        }

        var (published, all) = await _publisher.PublishPendingAsync(counting.Counted, cancellationToken).ConfigureAwait(false);
        if (all)
        {
            // Only once their revisions are out: a marker left counts its windows again, and publishes what is unpublished.
            await _markers.DeleteAsync(settled, cancellationToken).ConfigureAwait(false);
        }
        archive.Dispose(); // the counting's downloads, before compaction needs the disk
        var compacted = await _compaction.CompactAsync(now, failures, cancellationToken).ConfigureAwait(false);
        // Past the deadline too (the SDK's time-outs bound it): what status shows, and the metric, must not be lost with it.
        await _store.RecordFailuresAsync(now, failures.Steps, CancellationToken.None).ConfigureAwait(false);
        EmbeddedMetrics.Write(_log.Output, _clock, "Aggregator", new Dictionary<string, double> { [FailureMetric] = failures.Count });
        var failed = failures.Count == 0 ? "" : ": " + string.Join("; ", failures.Steps);
        _log.Write(failures.Count == 0 ? "INFO" : "ERROR", string.Create(CultureInfo.InvariantCulture,
            $"Aggregator run: counted {counting.Counted.Count} window(s) from {counting.EventsRead} archived event(s), {markers.Count} late hour(s), "
            + $"published {published.Count} summary(ies), compacted {compacted} hour(s), {failures.Count} failure(s){failed}"));
        return new AggregatorRun(published, counting.EventsRead, markers.Count, compacted, failures.Steps);
    }

    private Task Pause(RunStep step, CancellationToken cancellationToken) => _runPause?.Invoke(step, cancellationToken) ?? Task.CompletedTask;

    /// <summary>Closes DuckDB, if it was opened, and deletes this object's files.</summary>
    public void Dispose() => _scratch.Dispose();
}
