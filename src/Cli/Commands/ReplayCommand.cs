using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Amazon.S3;
using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.Archive;
using Pipeline.Cli;
using Pipeline.Events;
using Pipeline.Storage;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>replay --from T --to T [--event-type TYPE] [--dry-run]</c>: reads the archive's hourly partitions in the range and
/// puts each event received in it back on the events queue, unchanged (same <c>eventId</c>: an event already stored is a
/// duplicate, so nothing is doubled), from raw and compacted hours alike, each <c>eventId</c> once. Resumable: the hours
/// are read in <c>eventId</c> order (<see cref="HourEvents"/>), and a checkpoint file records, per hour, the last
/// <c>eventId</c> sent, so a run stopped halfway and started again with the same arguments sends the rest, whatever a
/// compaction did to the hour in between (at most the last batch of ten again, which the Processor stores once).
/// </summary>
public static class ReplayCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var from = TypedOptions.Time("--from", "the first time of the range (events received at or after it)", required: true);
        var to = TypedOptions.Time("--to", "the end of the range (events received before it)", required: true);
        var eventType = new Option<string?>("--event-type") { Description = "only events of this type", HelpName = "TYPE" };
        var checkpoint = new Option<string?>("--checkpoint")
        {
            Description = "the file recording progress (default ~/.local/share/pipeline/replay-STACK-FROM-TO.json)",
            HelpName = "FILE",
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "read the archive and say how many events would be sent; send nothing, write no checkpoint" };
        var command = new Command("replay", """
            put the archived events received in [from, to) back on the events queue (same eventId, so nothing is
            doubled); resumable after an interruption
            """)
        {
            from, to, eventType, checkpoint, dryRun,
        };
        TypedOptions.RequireOrder(command, from, to);
        StackTarget.AddOptions(command, Services.Sqs | Services.S3);
        command.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            var (start, end, type) = (r.GetValue(from)!.Value, r.GetValue(to)!.Value, r.GetValue(eventType));
            var checkpointPath = r.GetValue(checkpoint) ?? Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.LocalApplicationData), "pipeline",
                $"replay-{target.Stack}-{start:yyyyMMddTHHmmss}-{end:yyyyMMddTHHmmss}{(type is null ? "" : "-" + type)}.json");
            using var s3 = target.S3();
            using var sqs = r.GetValue(dryRun) ? null : target.Sqs();
            var output = r.InvocationConfiguration.Output;
            var (bucket, queue) = (await target.BucketAsync(ct), (await target.ResourcesAsync(ct)).EventsQueue);
            var result = await Terminal.ProgressAsync(output, "Replaying", progress =>
                RunAsync(s3, sqs, bucket, queue, start, end, type, checkpointPath, progress, ct));
            await output.WriteLineAsync(sqs is null
                ? $"Would replay {result.Sent} event(s) from {result.Hours} hour(s) to {queue} "
                    + $"({result.Resumed} hour(s) resumed from the checkpoint {checkpointPath}). Nothing was sent."
                : $"Replayed {result.Sent} event(s) from {result.Hours} hour(s) to {queue} "
                    + $"({result.Resumed} hour(s) resumed after what an earlier run of this replay sent). Checkpoint: {checkpointPath}");
            return 0;
        });
        return command;
    }

    /// <summary>What a replay did.</summary>
    /// <param name="Hours">Hours read (an hour an earlier run finished is not read again).</param>
    /// <param name="Sent">Events sent in this run (with no queue: events it would send).</param>
    /// <param name="Resumed">Hours an earlier run of the same replay had started or finished (from the checkpoint).</param>
    public sealed record Result(int Hours, long Sent, int Resumed);

    /// <summary>
    /// Replays, or with no <paramref name="sqs"/> counts what it would send (reading the checkpoint, writing none);
    /// <paramref name="progress"/> gets a step after each batch and hour (null to stay quiet).
    /// </summary>
    public static async Task<Result> RunAsync(IAmazonS3 s3, IAmazonSQS? sqs, string bucket, string queueName, DateTimeOffset from, DateTimeOffset to,
        string? eventType, string checkpointPath, IProgress<ProgressStep>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(s3);
        var queue = sqs is null ? null : (await sqs.GetQueueUrlAsync(queueName, cancellationToken)).QueueUrl;
        var checkpoint = await ReadCheckpointAsync(checkpointPath, new ReplayRange(from, to, eventType), cancellationToken);
        var started = System.Diagnostics.Stopwatch.StartNew();
        long sent = 0;
        int read = 0, resumed = 0;
        var hours = ArchiveReader.Hours(from, to).ToList();
        for (var h = 0; h < hours.Count; h++)
        {
            var partition = EventLayout.Partition(hours[h]);
            var state = checkpoint.Hours.GetValueOrDefault(partition) ?? new ReplayHour(null, false);
            resumed += state.After is null && !state.Done ? 0 : 1;
            if (state.Done)
            {
                continue;
            }
            read++;
            var batch = new List<QueuedEvent>(10);
            string? last = state.After;
            async Task SendAsync()
            {
                if (batch.Count > 0 && sqs is not null)
                {
                    var response = await sqs.SendMessageBatchAsync(new SendMessageBatchRequest
                    {
                        QueueUrl = queue,
                        Entries =
                        [
                            .. batch.Select((e, n) =>
                                new SendMessageBatchRequestEntry(n.ToString(CultureInfo.InvariantCulture), Encoding.UTF8.GetString(ArchiveLine.Serialize(e)))),
                        ],
                    }, cancellationToken);
                    if (response.Failed is { Count: > 0 } failed)
                    {
                        throw new InvalidOperationException(
                            $"SQS refused {failed.Count} message(s) of {partition}: {failed[0].Code} {failed[0].Message}. Run the replay again to resume.");
                    }
                }
                sent += batch.Count;
                batch.Clear();
            }
            await foreach (var e in HourEvents.ReadAsync(s3, bucket, hours[h], state.After, cancellationToken))
            {
                if (e.ReceivedAt >= from && e.ReceivedAt < to && (eventType is null || e.EventType == eventType))
                {
                    batch.Add(e);
                }
                last = e.EventId;
                if (batch.Count == 10)
                {
                    await SendAsync();
                    // Checkpoint after the send: stopped in between, the batch is sent again (stored once), never skipped.
                    await SaveAsync(checkpoint, checkpointPath, partition, new ReplayHour(last, false), sqs is null);
                    progress?.Report(Step(h, hours.Count, sent, started));
                }
            }
            await SendAsync();
            await SaveAsync(checkpoint, checkpointPath, partition, new ReplayHour(last, true), sqs is null);
            progress?.Report(Step(h + 1, hours.Count, sent, started));
        }
        return new Result(read, sent, resumed);
    }

    private static ProgressStep Step(int hours, int total, long sent, System.Diagnostics.Stopwatch started) => new(hours, total, string.Create(CultureInfo.InvariantCulture,
        $"{hours} of {total} hour(s), {sent} event(s) ({sent / Math.Max(started.Elapsed.TotalSeconds, 0.001):0}/s)"));

    private static async Task<ReplayCheckpoint> ReadCheckpointAsync(string path, ReplayRange range, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return new ReplayCheckpoint(ReplayCheckpoint.CurrentVersion, range, []);
        }
        ReplayCheckpoint? checkpoint = null;
        try
        {
            checkpoint = JsonSerializer.Deserialize(await File.ReadAllTextAsync(path, cancellationToken), ReplayJsonContext.Default.ReplayCheckpoint);
        }
        catch (JsonException)
        {
        }
        if (checkpoint is not { Version: ReplayCheckpoint.CurrentVersion, Hours: not null, Range: not null })
        {
            throw new InvalidDataException(
                $"{path} is not a checkpoint of this version of replay (an earlier version recorded objects, which a compaction replaces). "
                + "Delete it to replay the range from its start, or pass another --checkpoint.");
        }
        // Hours another range finished are not this range's: resuming from them would skip events silently.
        return checkpoint.Range == range
            ? checkpoint
            : throw new InvalidDataException(
                $"{path} is the checkpoint of another replay ({checkpoint.Range.From:O} to {checkpoint.Range.To:O}{(checkpoint.Range.EventType is { } t ? ", " + t : "")}). "
                + "Pass another --checkpoint, or delete it.");
    }

    private static async Task SaveAsync(ReplayCheckpoint checkpoint, string path, string partition, ReplayHour state, bool dryRun)
    {
        checkpoint.Hours[partition] = state;
        if (!dryRun)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(checkpoint, ReplayJsonContext.Default.ReplayCheckpoint), CancellationToken.None);
        }
    }
}

/// <summary>What a replay replays: the range and the event type, if one was given.</summary>
/// <param name="From">The first time of the range.</param>
/// <param name="To">The end of the range.</param>
/// <param name="EventType">Only events of this type, if not null.</param>
public sealed record ReplayRange(DateTimeOffset From, DateTimeOffset To, string? EventType);

/// <summary>A replay's progress: per hour (its partition), how far it got.</summary>
/// <param name="Version">The checkpoint's form.</param>
/// <param name="Range">The replay it is the progress of (another replay's checkpoint is refused).</param>
/// <param name="Hours">Per hour partition, the last <c>eventId</c> read and sent, and whether the hour is done.</param>
public sealed record ReplayCheckpoint(int Version, ReplayRange Range, Dictionary<string, ReplayHour> Hours)
{
    /// <summary>The form this code writes: per hour, by <c>eventId</c>.</summary>
    public const int CurrentVersion = 2;
}

/// <summary>How far a replay got in an hour.</summary>
/// <param name="After">The last <c>eventId</c> read, every event up to it sent (null: none yet).</param>
/// <param name="Done">Every event of the hour was sent.</param>
public sealed record ReplayHour(string? After, bool Done);

/// <summary>Source-generated JSON for the replay checkpoint.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ReplayCheckpoint))]
internal sealed partial class ReplayJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
