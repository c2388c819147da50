using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.Cli;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>redrive [--dry-run]</c>: moves the messages of the dead-letter queue back to the queues they failed in, after the
/// cause of their failures is fixed: live events to the events queue, imported rows to the import events queue (both
/// share the DLQ; a file's rows sent to the live queue would make live events wait behind them). With SQS's own message
/// move task where the server has one (AWS: without a destination it returns each message to its source queue);
/// otherwise message by message: receive, send to the queue its events came from (rows with an <c>importFile</c> to the
/// import events queue), then delete from the DLQ, so a redrive stopped halfway loses nothing (a message sent but not yet
/// deleted is sent again next time, and the Processor stores an event once, whatever number of times it arrives).
/// </summary>
public static class RedriveCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "say how many messages there are, and show a sample, changing nothing" };
        var command = new Command("redrive", "move the dead-letter queue's messages back to the queues they failed in") { dryRun };
        StackTarget.AddOptions(command, Services.Sqs);
        command.SetAction(async (r, ct) =>
        {
            var target = new StackTarget(r);
            using var sqs = target.Sqs();
            return await RunAsync(sqs, await target.ResourcesAsync(ct), r.GetValue(dryRun), r.InvocationConfiguration.Output, ct);
        });
        return command;
    }

    /// <summary>Runs the command on the stack's dead-letter and events queues; returns the exit code.</summary>
    public static async Task<int> RunAsync(IAmazonSQS sqs, StackResources stack, bool dryRun, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sqs);
        ArgumentNullException.ThrowIfNull(stack);
        ArgumentNullException.ThrowIfNull(output);
        var dlq = (await sqs.GetQueueUrlAsync(stack.DeadLetterQueue, cancellationToken)).QueueUrl;
        var events = (await sqs.GetQueueUrlAsync(stack.EventsQueue, cancellationToken)).QueueUrl;
        var imports = stack.ImportEventsQueue is { } name ? (await sqs.GetQueueUrlAsync(name, cancellationToken)).QueueUrl : events;
        var waiting = (await sqs.GetQueueAttributesAsync(dlq, ["ApproximateNumberOfMessages"], cancellationToken)).ApproximateNumberOfMessages;
        await output.WriteLineAsync($"{waiting} message(s) in {stack.DeadLetterQueue}.");
        if (dryRun)
        {
            await SampleAsync(sqs, dlq, output, cancellationToken);
            return 0;
        }

        var moved = await Terminal.ProgressAsync(output, "Moving", progress => MoveAsync(sqs, dlq, events, imports, waiting, progress, output, cancellationToken));
        if (moved is { } count)
        {
            await output.WriteLineAsync($"Moved {count.Live + count.Imported} message(s): {count.Live} to {stack.EventsQueue}"
                + (imports == events ? "." : $", {count.Imported} of imported rows to {stack.ImportEventsQueue}."));
        }
        return 0;
    }

    // Moves the messages, with SQS's own move task where the server has one (then null: it reports itself), else by hand.
    private static async Task<(int Live, int Imported)?> MoveAsync(IAmazonSQS sqs, string dlq, string events, string imports, int waiting,
        IProgress<ProgressStep> progress, TextWriter output, CancellationToken cancellationToken)
    {
        if (await MoveTaskAsync(sqs, dlq, progress, output, cancellationToken))
        {
            return null;
        }
        int live = 0, imported = 0;
        while (true)
        {
            var page = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest
            {
                QueueUrl = dlq,
                MaxNumberOfMessages = 10,
                WaitTimeSeconds = 1,
                VisibilityTimeout = 60,
                MessageAttributeNames = ["All"],
            }, cancellationToken);
            if (page.Messages is not { Count: > 0 } messages)
            {
                break;
            }
            // Send first, delete after: stopped in between, a message is in both queues, never in neither.
            var delivered = new List<Message>();
            foreach (var group in messages.GroupBy(m => Imported(m.Body) ? imports : events))
            {
                var batch = group.ToList();
                var sent = await sqs.SendMessageBatchAsync(new SendMessageBatchRequest
                {
                    QueueUrl = group.Key,
                    Entries =
                    [
                        .. batch.Select((m, i) =>
                            new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.Body) { MessageAttributes = m.MessageAttributes }),
                    ],
                }, cancellationToken);
                var done = (sent.Successful ?? []).Select(s => batch[int.Parse(s.Id, CultureInfo.InvariantCulture)]).ToList();
                delivered.AddRange(done);
                if (group.Key == imports && imports != events)
                {
                    imported += done.Count;
                }
                else
                {
                    live += done.Count;
                }
                foreach (var failed in sent.Failed ?? [])
                {
                    await Console.Error.WriteLineAsync($"Could not move a message ({failed.Code}: {failed.Message}); it stays in the DLQ.");
                }
            }
            if (delivered.Count > 0)
            {
                await sqs.DeleteMessageBatchAsync(new DeleteMessageBatchRequest
                {
                    QueueUrl = dlq,
                    Entries = [.. delivered.Select((m, i) => new DeleteMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.ReceiptHandle))],
                }, CancellationToken.None);
            }
            var moved = live + imported;
            progress.Report(new ProgressStep(moved, Math.Max(waiting, moved), $"{moved} of about {Math.Max(waiting, moved)}"));
        }
        return (live, imported);
    }

    // A batch message of imported rows (its events carry the file they came from), which goes back to the import events queue.
    private static bool Imported(string body) =>
        TryParse(body)?["events"] is JsonArray { Count: > 0 } events && events[0] is JsonObject first && first.ContainsKey("importFile");

    // SQS's own redrive (StartMessageMoveTask), where the server has it; false where it does not (fauxqs, for one). Without a
    // destination, SQS returns each message to the queue it was dead-lettered from.
    private static async Task<bool> MoveTaskAsync(IAmazonSQS sqs, string dlq, IProgress<ProgressStep> progress, TextWriter output, CancellationToken cancellationToken)
    {
        var source = (await sqs.GetQueueAttributesAsync(dlq, ["QueueArn"], cancellationToken)).QueueARN;
        try
        {
            await sqs.StartMessageMoveTaskAsync(new StartMessageMoveTaskRequest { SourceArn = source }, cancellationToken);
        }
        catch (AmazonSQSException e) when (e.StatusCode is System.Net.HttpStatusCode.NotImplemented or System.Net.HttpStatusCode.BadRequest or System.Net.HttpStatusCode.NotFound
            && !(e.ErrorCode ?? "").Contains("MessageMoveTask", StringComparison.OrdinalIgnoreCase) && e.ErrorCode is not "AWS.SimpleQueueService.NonExistentQueue")
        {
            await output.WriteLineAsync($"This server has no message move task ({e.ErrorCode}); moving message by message.");
            return false;
        }
        while (true)
        {
            var task = (await sqs.ListMessageMoveTasksAsync(new ListMessageMoveTasksRequest { SourceArn = source, MaxResults = 1 }, cancellationToken)).Results?.FirstOrDefault();
            if (task is not null)
            {
                progress.Report(new ProgressStep(task.ApproximateNumberOfMessagesMoved ?? 0, task.ApproximateNumberOfMessagesToMove ?? 0,
                    $"{task.ApproximateNumberOfMessagesMoved} of {task.ApproximateNumberOfMessagesToMove}"));
            }
            if (task is null || task.Status is not "RUNNING")
            {
                var reason = task?.FailureReason is { } failure ? $" {failure}" : "";
                await output.WriteLineAsync(
                    $"SQS's message move task {task?.Status?.ToLowerInvariant() ?? "ended"}: moved {task?.ApproximateNumberOfMessagesMoved ?? 0} message(s).{reason}");
                return true;
            }
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }
    }

    // Up to ten messages, read without hiding them (visibility 0): the DLQ has no redrive of its own, so reading changes nothing.
    private static async Task SampleAsync(IAmazonSQS sqs, string dlq, TextWriter output, CancellationToken cancellationToken)
    {
        var sample = (await sqs.ReceiveMessageAsync(new ReceiveMessageRequest
        {
            QueueUrl = dlq,
            MaxNumberOfMessages = 10,
            VisibilityTimeout = 0,
            MessageSystemAttributeNames = ["SentTimestamp"],
        }, cancellationToken)).Messages ?? [];
        if (sample.Count == 0)
        {
            return;
        }
        // Visible again at once, even where a receive's visibility of 0 is taken as "the queue's default".
        await sqs.ChangeMessageVisibilityBatchAsync(new ChangeMessageVisibilityBatchRequest
        {
            QueueUrl = dlq,
            Entries =
            [
                .. sample.Select((m, i) =>
                    new ChangeMessageVisibilityBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), m.ReceiptHandle) { VisibilityTimeout = 0 }),
            ],
        }, cancellationToken);
        DateTimeOffset Sent(Message m) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(m.Attributes["SentTimestamp"], CultureInfo.InvariantCulture));
        await output.WriteLineAsync($"Oldest of a sample of {sample.Count}: first sent {sample.Min(Sent):u}. Sample:");
        foreach (var message in sample)
        {
            var body = TryParse(message.Body);
            await output.WriteLineAsync(
                $"  {Sent(message):u}  message {message.MessageId}  event {body?["eventId"] ?? "(not an event)"}  {body?["eventType"]}  received {body?["receivedAt"]}");
        }
        await output.WriteLineAsync("Nothing was moved (--dry-run). The Processor's reasons are in its log: look for the message ids above.");
    }

    private static JsonNode? TryParse(string body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
