using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Amazon.S3;
using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.Archive;
using Pipeline.Events;
using Pipeline.Local.Cli;
using Pipeline.Storage;

namespace Pipeline.Local;

/// <summary>
/// <c>replay --from T --to T [--event-type TYPE]</c>: reads the archive's hourly partitions in the range and puts each
/// event received in it back on the events queue, unchanged (same <c>eventId</c>: an event already stored is a duplicate,
/// so nothing is doubled), from raw and compacted hours alike. Resumable: a checkpoint file records, per archive object, how many of its events were sent;
/// a run stopped halfway and started again with the same arguments sends the rest (at most the last batch of ten again,
/// which the Processor stores once).
/// </summary>
public static class ReplayCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var from = TypedOptions.Time("--from", "the first time of the range (events received at or after it)", required: true);
        var to = TypedOptions.Time("--to", "the end of the range (events received before it)", required: true);
        var eventType = new Option<string?>("--event-type") { Description = "only events of this type", HelpName = "TYPE" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "the file recording progress (default .local/replay-STACK-FROM-TO.json)", HelpName = "FILE" };
        var command = new Command("replay", """
            put the archived events received in [from, to) back on the events queue (same eventId, so nothing is
            doubled); resumable after an interruption
            """)
        {
            from, to, eventType, checkpoint,
        };
        TypedOptions.RequireOrder(command, from, to);
        StackTarget.AddOptions(command, Services.Sqs | Services.S3);
        command.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            var (start, end, type) = (r.GetValue(from)!.Value, r.GetValue(to)!.Value, r.GetValue(eventType));
            var checkpointPath = r.GetValue(checkpoint) ?? Path.Combine(Environment.RepositoryPaths.Discover().LocalState,
                $"replay-{target.Stack}-{start:yyyyMMddTHHmmss}-{end:yyyyMMddTHHmmss}{(type is null ? "" : "-" + type)}.json");
            using var s3 = target.S3();
            using var sqs = target.Sqs();
            var output = r.InvocationConfiguration.Output;
            var result = await Terminal.ProgressAsync(output, "Replaying", progress =>
                RunAsync(s3, sqs, target.Bucket, $"{target.Stack}-events", start, end, type, checkpointPath, progress, ct));
            await output.WriteLineAsync($"Replayed {result.Sent} event(s) from {result.Objects} archive object(s) to {target.Stack}-events ({result.Skipped} sent by an earlier run of this replay). Checkpoint: {checkpointPath}");
            return 0;
        });
        return command;
    }

    /// <summary>What a replay did.</summary>
    /// <param name="Objects">Archive objects read.</param>
    /// <param name="Sent">Events sent in this run.</param>
    /// <param name="Skipped">Events already sent by an earlier run of the same replay (from the checkpoint).</param>
    public sealed record Result(int Objects, long Sent, long Skipped);

    /// <summary>Replays; <paramref name="progress"/> gets a step after each archive object (null to stay quiet).</summary>
    public static async Task<Result> RunAsync(IAmazonS3 s3, IAmazonSQS sqs, string bucket, string queueName, DateTimeOffset from, DateTimeOffset to,
        string? eventType, string checkpointPath, IProgress<ProgressStep>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(s3);
        ArgumentNullException.ThrowIfNull(sqs);
        var queue = (await sqs.GetQueueUrlAsync(queueName, cancellationToken)).QueueUrl;
        var checkpoint = File.Exists(checkpointPath)
            ? JsonSerializer.Deserialize(await File.ReadAllTextAsync(checkpointPath, cancellationToken), ReplayJsonContext.Default.DictionaryStringInt32) ?? []
            : [];
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(checkpointPath))!);
        var started = System.Diagnostics.Stopwatch.StartNew();
        long sent = 0, skipped = 0;
        var objects = 0;
        var keys = new List<string>();
        foreach (var hour in ArchiveReader.Hours(from, to))
        {
            keys.AddRange(await ArchiveReader.HourKeysAsync(s3, bucket, hour, cancellationToken));
        }
        foreach (var key in keys)
        {
            objects++;
            var lines = await ArchiveReader.LinesAsync(s3, bucket, key, cancellationToken);
            var done = checkpoint.GetValueOrDefault(key);
            skipped += done;
            for (var i = done; i < lines.Count; i += 10)
            {
                var chunk = lines.Skip(i).Take(10).ToList();
                var wanted = chunk.Where(line => InRange(line, from, to, eventType)).ToList();
                if (wanted.Count > 0)
                {
                    var response = await sqs.SendMessageBatchAsync(new SendMessageBatchRequest
                    {
                        QueueUrl = queue,
                        Entries = [.. wanted.Select((body, n) => new SendMessageBatchRequestEntry(n.ToString(CultureInfo.InvariantCulture), body))],
                    }, cancellationToken);
                    if (response.Failed is { Count: > 0 } failed)
                    {
                        throw new InvalidOperationException($"SQS refused {failed.Count} message(s) of {key}: {failed[0].Code} {failed[0].Message}. Run the replay again to resume.");
                    }
                    sent += wanted.Count;
                }
                // Checkpoint after the send: stopped in between, the batch is sent again (stored once), never skipped.
                checkpoint[key] = Math.Min(i + 10, lines.Count);
                await File.WriteAllTextAsync(checkpointPath, JsonSerializer.Serialize(checkpoint, ReplayJsonContext.Default.DictionaryStringInt32), CancellationToken.None);
            }
            progress?.Report(new ProgressStep(objects, keys.Count, string.Create(CultureInfo.InvariantCulture,
                $"{objects} of {keys.Count} object(s), {sent} event(s) sent ({sent / Math.Max(started.Elapsed.TotalSeconds, 0.001):0}/s), {skipped} already sent before")));
        }
        return new Result(objects, sent, skipped);
    }

    private static bool InRange(string line, DateTimeOffset from, DateTimeOffset to, string? eventType)
    {
        var queued = JsonSerializer.Deserialize(line, EventJsonContext.Default.QueuedEvent);
        return queued is not null && queued.ReceivedAt >= from && queued.ReceivedAt < to && (eventType is null || queued.EventType == eventType);
    }
}

/// <summary>Source-generated JSON for the replay checkpoint.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, int>))]
internal sealed partial class ReplayJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
