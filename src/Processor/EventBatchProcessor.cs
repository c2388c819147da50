using System.Diagnostics;
using Pipeline.Faults;
using Pipeline.Lambda;
using Pipeline.Metrics;

namespace Pipeline.Processor;

/// <summary>
/// One SQS batch: rejects what can never succeed, stores each valid event once, then writes the stored events to the S3
/// archive; what the table's capacity left unwritten goes back to the queue (<see cref="CapacityRequeue"/>). Returns the
/// records SQS must redeliver; everything else may be deleted. Imported events are written at most
/// <paramref name="importWritesPerSecond"/> a second (<see cref="ImportPace"/>; 0: unpaced), live events as fast as they come.
/// </summary>
public sealed class EventBatchProcessor(EventArchive archive, EventStore store, CapacityRequeue requeue, TimeProvider clock, FunctionLog log,
    double importWritesPerSecond = 0)
{
    private const int WriteConcurrency = 10;

    /// <summary>
    /// Processes a batch: the table writes within the time budget carried by <paramref name="writes"/>, the rest (the
    /// archive, rejections) within <paramref name="cancellationToken"/>, which ends later, before the invocation's
    /// <paramref name="deadline"/>.
    /// </summary>
    public async Task<SqsBatchResponse> ProcessAsync(IReadOnlyList<SqsMessage> messages, DateTimeOffset deadline, CancellationToken writes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var started = Stopwatch.GetTimestamp();
        var records = messages.SelectMany(EventRecord.ParseAll).ToList();
        // Failed records, by message id: SQS redelivers a record whole, whatever part of it failed.
        var failed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in records.Where(r => r.RetryReason is not null))
        {
            if (failed.Add(record.Message.MessageId))
            {
                log.Write("WARN", $"Message {record.Message.MessageId} will be retried: {record.RetryReason}");
            }
        }
        records.RemoveAll(r => failed.Contains(r.Message.MessageId));
        var rejected = 0;
        foreach (var record in records.Where(r => r.RejectReason is not null))
        {
            rejected += await RejectAsync(record, failed, cancellationToken).ConfigureAwait(false);
        }

        var valid = records.Where(r => r.Event is not null).ToList();
        var stored = 0;
        var duplicates = 0;
        var late = 0;
        var requeued = 0;
        if (valid.Count > 0)
        {
            // Messages failed before their writes, or whose events failed otherwise than by running out of time, are never requeued.
            var failedOtherwise = new HashSet<string>(failed, StringComparer.Ordinal);
            var unwritten = new Dictionary<string, List<EventRecord>>(StringComparer.Ordinal);
            var results = new StoreResult[valid.Count];
            var pace = new ImportPace(importWritesPerSecond, clock);
            var pacedOut = 0;
            // Live events first, so none waits for a writer held by an imported event's turn. An imported event whose turn came
            // after the budget fails as a write out of time does: its message is redelivered.
            var order = Enumerable.Range(0, valid.Count).OrderBy(i => valid[i].Event!.ImportFile is not null);
            await Parallel.ForEachAsync(order, new ParallelOptions { MaxDegreeOfParallelism = WriteConcurrency }, async (i, _) =>
            {
                if (valid[i].Event!.ImportFile is null || await pace.WaitTurnAsync(writes).ConfigureAwait(false))
                {
                    results[i] = await store.PutAsync(valid[i].Event!, writes).ConfigureAwait(false);
                }
                else
                {
                    Interlocked.Increment(ref pacedOut);
                    results[i] = new(StoreOutcome.Failed);
                }
            }).ConfigureAwait(false);
            if (pacedOut > 0)
            {
                log.Write("WARN", $"{pacedOut} imported events were not written: the time ran out before their turn at the import write rate; their messages will be redelivered.");
            }
            var archivable = new List<EventRecord>(valid.Count);
            for (var i = 0; i < valid.Count; i++)
            {
                switch (results[i].Outcome)
                {
                    case StoreOutcome.Stored:
                        stored++;
                        archivable.Add(valid[i]);
                        break;
                    case StoreOutcome.Duplicate:
                        // The same copy is archived again: its first delivery may have stored it and died before archiving
                        // it (D10). A client's resend is not: it carries another receive time, so it would be counted in
                        // another window, and the copy stored first is archived by its own delivery.
                        duplicates++;
                        if (results[i].SameCopy)
                        {
                            archivable.Add(valid[i]);
                        }
                        break;
                    case StoreOutcome.Failed:
                        failed.Add(valid[i].Message.MessageId);
                        if (results[i].Reason is { } reason)
                        {
                            failedOtherwise.Add(valid[i].Message.MessageId);
                            log.Write("ERROR", $"Could not store message {valid[i].Message.MessageId}; it will be redelivered: {reason}");
                        }
                        else if (results[i].Faulted)
                        {
                            // DynamoDB failed it (a server error, the network) to the end: a fault, never requeued (D21).
                            if (failedOtherwise.Add(valid[i].Message.MessageId))
                            {
                                log.Write("ERROR", $"Could not store message {valid[i].Message.MessageId} in time: DynamoDB failed (not throttling); it will be redelivered.");
                            }
                        }
                        else
                        {
                            unwritten.TryAdd(valid[i].Message.MessageId, []);
                            unwritten[valid[i].Message.MessageId].Add(valid[i]);
                        }
                        break;
                    default:
                        // A permanent refusal is a rejection, never a retry: redelivering it would fail the same way.
                        var written = await RejectAsync(valid[i] with { RejectReason = results[i].Reason }, failed, cancellationToken).ConfigureAwait(false);
                        rejected += written;
                        if (written == 0)
                        {
                            failedOtherwise.Add(valid[i].Message.MessageId);
                        }
                        break;
                }
            }

            try
            {
                // Acknowledged only once archived: an event in the table is always in the archive (docs/architecture.md, D10).
                late = await archive.WriteAsync([.. archivable.Select(r => r.Event!)], deadline, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsFault(e, cancellationToken))
            {
                log.Write("ERROR", $"Could not archive {archivable.Count} stored events; they will be redelivered: {e.Message}");
                failed.UnionWith(archivable.Select(r => r.Message.MessageId));
                failedOtherwise.UnionWith(archivable.Select(r => r.Message.MessageId));
            }

            // Throttled (a provisioned table at its capacity): what is left goes back to the queue, and the message is acknowledged.
            if (results.Any(r => r.Throttled))
            {
                foreach (var (id, events) in unwritten.Where(u => !failedOtherwise.Contains(u.Key)))
                {
                    if (await requeue.SendAsync(events[0].Message, events, cancellationToken).ConfigureAwait(false))
                    {
                        failed.Remove(id);
                        requeued += events.Count;
                    }
                }
                log.Write("WARN", $"DynamoDB throttled the writes: {requeued} unwritten events went back to the queue in new messages.");
            }
        }

        EmbeddedMetrics.Write(log.Output, clock, "Processor", new Dictionary<string, double>
        {
            ["Processed"] = stored,
            ["Duplicates"] = duplicates,
            ["Rejected"] = rejected,
            ["Failed"] = failed.Count,
            ["LateArchived"] = late,
            ["Requeued"] = requeued,
        }, new Dictionary<string, double> { ["BatchDuration"] = Stopwatch.GetElapsedTime(started).TotalMilliseconds },
            log.RequestId is { } requestId ? new Dictionary<string, string> { ["requestId"] = requestId } : null); // finds the invocation's log lines
        return new SqsBatchResponse { BatchItemFailures = [.. failed.Select(id => new BatchItemFailure(id))] };
    }

    // Writes the rejection to the archive; returns 1, or 0 (and reports the record failed) if that write failed.
    private async Task<int> RejectAsync(EventRecord record, HashSet<string> failed, CancellationToken cancellationToken)
    {
        try
        {
            await archive.RejectAsync(record, cancellationToken).ConfigureAwait(false);
            log.Write("WARN", $"Rejected message {record.Message.MessageId}: {record.RejectReason}");
            return 1;
        }
        catch (Exception e) when (IsFault(e, cancellationToken))
        {
            failed.Add(record.Message.MessageId);
            log.Write("ERROR", $"Could not archive rejected message {record.Message.MessageId}: {e.Message}");
            return 0;
        }
    }

    // Any AWS error of the archive fails the records, to be retried: a refusal there is the deployment's fault, not the event's.
    private static bool IsFault(Exception e, CancellationToken cancellationToken) =>
        e is OperationCanceledException || AwsFaults.IsServiceFailure(e, cancellationToken);
}
