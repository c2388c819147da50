using System.CommandLine;
using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Pipeline.Archive;
using Pipeline.Cli;
using Pipeline.Storage;
using Pipeline.Summaries;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>compact [--hour TIME]</c>: compacts now, without waiting for the look-back, every hour of the archive that has
/// raw objects (or the one given), as the Aggregator does (the same code, under the same per-hour lease, so it may run
/// beside it). A later write into a compacted hour stays raw until the next compaction; every reader reads both.
/// </summary>
public static class CompactCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var hour = TypedOptions.Time("--hour", "compact only the hour of this time (default every hour that has raw objects)");
        var command = new Command("compact", "compact the archive's raw objects into one Parquet file per hour, now") { hour };
        StackTarget.AddOptions(command, Services.S3 | Services.DynamoDb);
        command.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            using var s3 = target.S3();
            using var dynamoDb = target.DynamoDb();
            var summariesTable = (await target.ResourcesAsync(ct)).SummariesTable;
            return await RunAsync(s3, dynamoDb, await target.BucketAsync(ct), summariesTable, r.GetValue(hour), r.InvocationConfiguration.Output, ct);
        });
        return command;
    }

    /// <summary>Compacts; returns the exit code.</summary>
    public static async Task<int> RunAsync(IAmazonS3 s3, IAmazonDynamoDB dynamoDb, string bucket, string summariesTable, DateTimeOffset? hour,
        TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-compact-{Guid.NewGuid():N}");
        try
        {
            using var duckDb = DuckDb.Open(Path.Combine(folder, "duckdb"), DuckDbLimits.ForFunction((int)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20)));
            var compactor = new HourCompactor(s3, bucket, duckDb, new HourLease(dynamoDb, summariesTable, TimeProvider.System), folder);
            var hours = hour is { } one ? [EventLayout.Hour(one)] : await compactor.HoursAsync(cancellationToken);
            var (done, lost) = (0, 0);
            foreach (var h in hours)
            {
                var started = System.Diagnostics.Stopwatch.StartNew();
                var result = await compactor.CompactAsync(h, cancellationToken);
                await output.WriteLineAsync(result switch
                {
                    null => $"{EventLayout.Partition(h)}: nothing to compact, or another compaction holds the hour",
                    { LeaseLost: true } => $"{EventLayout.Partition(h)}: the lease was lost before the deletes (this command stalled past it); "
                        + "nothing was deleted, and the next compaction folds the duplicate it wrote",
                    var c => string.Create(CultureInfo.InvariantCulture,
                        $"{EventLayout.Partition(h)}: {c.RawObjects} raw object(s) -> {c.Events} event(s), "
                        + $"{c.Bytes / 1024.0:0.0} KB of Parquet ({started.Elapsed.TotalSeconds:0.0} s)"),
                });
                done += result is { LeaseLost: false } ? 1 : 0;
                lost += result is { LeaseLost: true } ? 1 : 0;
            }
            await output.WriteLineAsync($"Compacted {done} hour(s) into {bucket}/{EventLayout.ParquetRoot}{(lost > 0 ? $"; {lost} lost their lease" : "")}.");
            return lost > 0 ? 1 : 0;
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
