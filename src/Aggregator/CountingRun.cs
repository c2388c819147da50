using Pipeline.Archive;
using Pipeline.Lambda;

using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>
/// A run's counting (docs/architecture.md, D10), over one run's downloads of the archive: the windows complete since the
/// last one, stored as new summaries; the windows the previous complete run found within their look-back; and the
/// windows of the hours the Processor marked late, each stored as a revision where its count changed. It keeps what the
/// run has to publish and how many archived lines it read; each window's failure is listed in the run's failures.
/// </summary>
public sealed class CountingRun(AggregatorOptions options, SummaryStore store, WindowSummarizer summarizer, ArchiveDownloads archive, RunFailures failures, FunctionLog log)
{
    private readonly Dictionary<DateTimeOffset, Summary> _counted = []; // to publish
    private readonly HashSet<DateTimeOffset> _recounted = []; // counted by this run, successfully

    /// <summary>The summaries this run stored, and those it found stored but not published, to publish.</summary>
    public IReadOnlyCollection<Summary> Counted => _counted.Values;

    /// <summary>Archived lines read to count (a window whose archive had not changed is not read again).</summary>
    public long EventsRead { get; private set; }

    /// <summary>
    /// Summarizes and stores the windows complete at <paramref name="now"/> since the last stored one, oldest first. The first
    /// run of a deployment looks back as far as revisions do: a first run that failed (an outage) must not leave the events
    /// of its window in no summary; leading empty windows are history before the deployment, skipped.
    /// </summary>
    public async Task CountDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var lastEnd = await store.LatestWindowEndAsync(cancellationToken).ConfigureAwait(false);
        var firstSeries = lastEnd is null;
        var due = lastEnd is { } end
            ? SummaryWindows.Due(now, options.Window, options.Settle, end, options.MaxWindowsPerRun)
            : [.. SummaryWindows.Due(now, options.Window, options.Settle, now - options.Settle - options.Lookback, int.MaxValue).TakeLast(options.MaxWindowsPerRun)];
        foreach (var window in due)
        {
            // A window that cannot be counted stops the series here (the next run starts from it); the other steps go on.
            var stored = await failures.TryAsync($"count {window.Start:u}", async () =>
            {
                var (counts, fingerprint) = await summarizer.CountAsync(archive, window, null, cancellationToken).ConfigureAwait(false);
                EventsRead += counts!.EventsRead;
                var summary = await summarizer.SummarizeAsync(window, counts, 0, cancellationToken).ConfigureAwait(false);
                if (firstSeries && summary.TotalEvents == 0 && window != due[^1])
                {
                    return;
                }
                firstSeries = false;
                if (await store.StoreAsync(summary, fingerprint, cancellationToken).ConfigureAwait(false))
                {
                    _counted[window.Start] = summary;
                }
                _recounted.Add(window.Start);
            }, cancellationToken).ConfigureAwait(false);
            if (!stored)
            {
                break;
            }
        }
    }

    /// <summary>Counts again every window, settled at <paramref name="now"/>, that the previous complete run still had within its look-back.</summary>
    public async Task ReviseLookbackAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var previousRun = await store.LastRunStartAsync(cancellationToken).ConfigureAwait(false) ?? now;
        foreach (var stored in await store.EndingAfterAsync(previousRun - options.Settle - options.Lookback, cancellationToken).ConfigureAwait(false))
        {
            if (!_recounted.Contains(stored.Summary.WindowStart) && stored.Summary.WindowEnd + options.Settle <= now)
            {
                await failures.TryAsync($"revise {stored.Summary.WindowStart:u}",
                    async () => EventsRead += await ReviseAsync(stored, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Past the look-back: counts again the settled windows of the hours the Processor marked late (a redrive, an S3
    /// outage). Returns the keys of the markers whose every window was counted: they may go once what they revised is
    /// published; a failed one's marker stays, so the next run counts its windows again.
    /// </summary>
    public async Task<List<string>> ReviseLateAsync(IEnumerable<LateHour> markers, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(markers);
        var settled = new List<string>();
        foreach (var (hour, keys) in markers)
        {
            var whole = true;
            for (var window = SummaryWindows.Containing(hour, options.Window); window.Start < hour.AddHours(1); window = new(window.End, window.End + options.Window))
            {
                var start = window.Start;
                if (_recounted.Contains(start) || window.End + options.Settle > now)
                {
                    continue;
                }
                whole &= await failures.TryAsync($"revise {start:u} (late)", async () =>
                {
                    if (await store.GetAsync(start, cancellationToken).ConfigureAwait(false) is { } stored)
                    {
                        EventsRead += await ReviseAsync(stored, cancellationToken).ConfigureAwait(false);
                    }
                }, cancellationToken).ConfigureAwait(false);
            }
            if (whole)
            {
                settled.AddRange(keys);
            }
        }
        return settled;
    }

    // Counts a stored window again; stores a revision if the count changed, or re-publishes an unpublished one. Returns the lines read.
    private async Task<long> ReviseAsync(StoredSummary stored, CancellationToken cancellationToken)
    {
        var previous = stored.Summary;
        if (!stored.Published)
        {
            _counted[previous.WindowStart] = previous; // stored by an earlier run that could not publish it
        }
        var window = new SummaryWindow(previous.WindowStart, previous.WindowEnd);
        var (counts, fingerprint) = await summarizer.CountAsync(archive, window, stored.Fingerprint, cancellationToken).ConfigureAwait(false);
        if (counts is null)
        {
            _recounted.Add(previous.WindowStart);
            return 0; // the archive of its hours is as it was when it was counted
        }
        var revised = await summarizer.SummarizeAsync(window, counts, previous.Revision + 1, cancellationToken).ConfigureAwait(false);
        if (SummaryContent.Same(revised, previous))
        {
            await store.ConfirmAsync(previous.WindowStart, previous.Revision, fingerprint, cancellationToken).ConfigureAwait(false);
        }
        else if (await store.ReviseAsync(revised, previous.Revision, fingerprint, cancellationToken).ConfigureAwait(false))
        {
            var late = revised.TotalEvents - previous.TotalEvents;
            log.Write("INFO", FormattableString.Invariant($"Window {previous.WindowStart:u}: {late} late event(s); revision {revised.Revision}"));
            _counted[revised.WindowStart] = revised;
        }
        _recounted.Add(previous.WindowStart);
        return counts.EventsRead;
    }
}
