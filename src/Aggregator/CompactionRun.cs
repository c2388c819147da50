using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Pipeline.Archive;
using Pipeline.Lambda;
using Pipeline.Storage;

using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>
/// A run's compaction (docs/architecture.md, D17): compacts, oldest first, each hour with raw objects whose every window
/// is past its look-back (a late write into a compacted hour leaves raw objects, so it is compacted again), with
/// <see cref="HourCompactor"/> under the hour's lease. Last in the run, so the deadline stops it first: an hour cut short
/// is left as it was for the next run. An hour that fails is reported and the next one goes on. A test can stop a
/// compaction between its steps (<paramref name="pause"/>).
/// </summary>
public sealed class CompactionRun(AggregatorOptions options, IAmazonS3 s3, IAmazonDynamoDB dynamoDb, ScratchSpace scratch, TimeProvider clock, FunctionLog log,
    Func<CompactionStep, CancellationToken, Task>? pause = null)
{
    /// <summary>Compacts the hours due at <paramref name="now"/>, listing each one that fails in <paramref name="failures"/>; returns how many it compacted.</summary>
    public async Task<int> CompactAsync(DateTimeOffset now, RunFailures failures, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failures);
        var compacted = 0;
        var compactor = new HourCompactor(s3, options.BucketName, scratch.DuckDbConnection, new HourLease(dynamoDb, options.SummariesTable, clock), scratch.Folder,
            clock: clock, pause: pause);
        try
        {
            foreach (var hour in await compactor.HoursAsync(cancellationToken).ConfigureAwait(false))
            {
                var lastWindow = SummaryWindows.Containing(hour.AddHours(1).AddTicks(-1), options.Window);
                if (lastWindow.End + options.Settle + options.Lookback > now)
                {
                    break;
                }
                var started = clock.GetTimestamp();
                await failures.TryAsync($"compact {EventLayout.Partition(hour)}", async () =>
                {
                    switch (await compactor.CompactAsync(hour, cancellationToken).ConfigureAwait(false))
                    {
                        case { LeaseLost: true }:
                            throw new InvalidOperationException(
                                "the lease was lost before the deletes (the run stalled past it); "
                                + "its file is a duplicate the next compaction folds, and nothing was deleted");
                        case { } done:
                            compacted++;
                            log.Write("INFO", string.Create(CultureInfo.InvariantCulture,
                                $"Compacted {EventLayout.Partition(hour)}: {done.RawObjects} object(s), {done.Events} event(s), {done.Bytes} bytes of Parquet, "
                                + $"in {clock.GetElapsedTime(started).TotalMilliseconds:0} ms"));
                            break;
                    }
                }, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            log.Write("WARN", "Compaction stopped at the run's deadline; the next run goes on from the hour it was in.");
        }
        return compacted;
    }
}
