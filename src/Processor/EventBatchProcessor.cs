using System.Diagnostics;
using Pipeline.Lambda;

namespace Pipeline.Processor;

/// <summary>
/// One SQS batch: rejects what can never succeed, archives the valid events, then stores each once.
/// Returns the records SQS must redeliver; everything else may be deleted.
/// </summary>
public sealed class EventBatchProcessor(EventArchive archive, EventStore store, TimeProvider clock, FunctionLog log)
{
    private const int WriteConcurrency = 10;

    /// <summary>Processes a batch within the time budget carried by <paramref name="cancellationToken"/>.</summary>
    public async Task<SqsBatchResponse> ProcessAsync(IReadOnlyList<SqsMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var started = Stopwatch.GetTimestamp();
        var records = messages.Select(EventRecord.Parse).ToList();
        var failed = new List<string>();
        var rejected = 0;

        foreach (var record in records.Where(r => r.Event is null))
        {
            try
            {
                await archive.RejectAsync(record, cancellationToken).ConfigureAwait(false);
                rejected++;
                log.Write("WARN", $"Rejected message {record.Message.MessageId}: {record.RejectReason}");
            }
            catch (Exception e) when (IsFault(e))
            {
                failed.Add(record.Message.MessageId);
                log.Write("ERROR", $"Could not archive rejected message {record.Message.MessageId}: {e.Message}");
            }
        }

        var valid = records.Where(r => r.Event is not null).ToList();
        var outcomes = new Dictionary<StoreOutcome, int> { [StoreOutcome.Stored] = 0, [StoreOutcome.Duplicate] = 0, [StoreOutcome.Failed] = 0 };
        if (valid.Count > 0)
        {
            try
            {
                // Archive first: no event is in the table without being in the archive (ARCHITECTURE D10).
                await archive.WriteBatchAsync(valid, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsFault(e))
            {
                log.Write("ERROR", $"Could not archive the batch; all {valid.Count} events will be redelivered: {e.Message}");
                failed.AddRange(valid.Select(r => r.Message.MessageId));
                outcomes[StoreOutcome.Failed] = valid.Count;
                valid.Clear();
            }

            var results = new StoreOutcome[valid.Count];
            await Parallel.ForAsync(0, valid.Count, new ParallelOptions { MaxDegreeOfParallelism = WriteConcurrency }, async (i, _) =>
                results[i] = await store.PutAsync(valid[i].Event!, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
            for (var i = 0; i < valid.Count; i++)
            {
                outcomes[results[i]]++;
                if (results[i] == StoreOutcome.Failed)
                {
                    failed.Add(valid[i].Message.MessageId);
                }
            }
        }

        EmbeddedMetrics.Write(log.Output, clock, log.RequestId, new Dictionary<string, double>
        {
            ["Processed"] = outcomes[StoreOutcome.Stored],
            ["Duplicates"] = outcomes[StoreOutcome.Duplicate],
            ["Rejected"] = rejected,
            ["Failed"] = failed.Count,
        }, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new SqsBatchResponse { BatchItemFailures = [.. failed.Select(id => new BatchItemFailure(id))] };
    }

    private static bool IsFault(Exception e) => e is not (ArgumentException or NullReferenceException or InvalidCastException);
}
