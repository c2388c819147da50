using System.CommandLine;
using System.Text.Json;
using Amazon.S3;
using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.Events;
using Pipeline.Local.Cli;
using Pipeline.Processor;

namespace Pipeline.Local;

/// <summary>
/// <c>drain-archive-queue</c>: a one-time step of the upgrade from the version whose Processor handed stored events to an
/// archive queue (<c>STACK-archive</c>) for the Aggregator to write. The template no longer has that queue, and it is
/// retained when the stack is updated, so the events still in it are written to the archive with the Processor's own
/// code, a page of messages at a time, each page's messages deleted only once written. Every hour written gets a late
/// marker, so the next Aggregator run counts its windows again.
/// </summary>
public static class DrainArchiveQueueCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var command = new Command("drain-archive-queue", """
            once, when upgrading a stack deployed with an archive queue (STACK-archive): write the stored events still
            in it to the archive (then delete the queue by hand)
            """);
        StackTarget.AddOptions(command, Services.Sqs | Services.S3);
        command.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            using var sqs = target.Sqs();
            using var s3 = target.S3();
            var drained = await RunAsync(sqs, s3, $"{target.Stack}-archive", target.Bucket, r.InvocationConfiguration.Output, ct);
            await r.InvocationConfiguration.Output.WriteLineAsync($"Done: {drained} event(s) written to the archive from {target.Stack}-archive. The queue is no longer used; delete it when it stays empty.");
            return 0;
        });
        return command;
    }

    /// <summary>Drains the queue; returns how many events were archived. A message that is not a batch of events is left in place and reported.</summary>
    public static async Task<long> RunAsync(IAmazonSQS sqs, IAmazonS3 s3, string queueName, string bucket, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sqs);
        ArgumentNullException.ThrowIfNull(output);
        var queue = (await sqs.GetQueueUrlAsync(queueName, cancellationToken)).QueueUrl;
        // Every write announces itself late: deadline MaxValue is past any look-back.
        var archive = new EventArchive(s3, bucket, TimeSpan.Zero, TimeProvider.System);
        long archived = 0;
        while (true)
        {
            var page = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queue, MaxNumberOfMessages = 10, WaitTimeSeconds = 1, VisibilityTimeout = 300 }, cancellationToken);
            if (page.Messages is not { Count: > 0 })
            {
                return archived;
            }
            var events = new List<QueuedEvent>();
            var done = new List<Message>();
            foreach (var message in page.Messages)
            {
                if (Read(message.Body) is { } read)
                {
                    events.AddRange(read);
                    done.Add(message);
                }
                else
                {
                    await output.WriteLineAsync($"Message {message.MessageId} is not a batch of stored events; left in {queueName}.");
                }
            }
            await archive.WriteAsync(events, DateTimeOffset.MaxValue, cancellationToken);
            if (done.Count > 0)
            {
                await sqs.DeleteMessageBatchAsync(queue, [.. done.Select((m, i) => new DeleteMessageBatchRequestEntry(i.ToString(System.Globalization.CultureInfo.InvariantCulture), m.ReceiptHandle))], cancellationToken);
            }
            archived += events.Count;
            await output.WriteLineAsync($"{archived} event(s) archived");
        }
    }

    private static List<QueuedEvent>? Read(string? body)
    {
        try
        {
            using var document = JsonDocument.Parse(body ?? "");
            if (!EventBatchMessage.TryRead(document.RootElement, out var events))
            {
                return null;
            }
            var list = new List<QueuedEvent>();
            foreach (var element in events.EnumerateArray())
            {
                if (element.Deserialize(EventJsonContext.Default.QueuedEvent) is not { EventId: not null } queued)
                {
                    return null;
                }
                list.Add(queued);
            }
            return list;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
