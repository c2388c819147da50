using System.Globalization;
using System.Text.Json;
using Pipeline.Faults;
using Pipeline.Lambda;
using Pipeline.Sns;

using Pipeline.Summaries;

namespace Pipeline.Aggregator;

/// <summary>
/// Publishes stored summaries to the SNS topic, oldest first, and marks each published in the store. An SNS fault stops
/// the publishing and leaves the rest stored, unpublished, for the next run.
/// </summary>
public sealed class SummaryPublisher(SnsClient sns, string topicArn, SummaryStore store, FunctionLog log)
{
    /// <summary>
    /// Publishes this run's summaries (<paramref name="counted"/>) and those earlier runs stored but did not publish,
    /// oldest first. Returns the windows published, and whether every one was.
    /// </summary>
    public async Task<(List<DateTimeOffset> Published, bool All)> PublishPendingAsync(IEnumerable<Summary> counted, CancellationToken cancellationToken)
    {
        var pending = new SortedDictionary<DateTimeOffset, Summary>();
        foreach (var summary in (await store.UnpublishedAsync(cancellationToken).ConfigureAwait(false)).Concat(counted))
        {
            pending[summary.WindowStart] = summary;
        }
        var published = new List<DateTimeOffset>();
        foreach (var summary in pending.Values)
        {
            try
            {
                await PublishAsync(summary, cancellationToken).ConfigureAwait(false);
                published.Add(summary.WindowStart);
            }
            catch (Exception e) when (AwsFaults.IsServiceFailure(e, cancellationToken))
            {
                log.Write("ERROR", FormattableString.Invariant($"Could not publish the summary of {summary.WindowStart:u}; the next run publishes it: {e.Message}"));
                return (published, false);
            }
        }
        return (published, true);
    }

    private async Task PublishAsync(Summary summary, CancellationToken cancellationToken)
    {
        var start = summary.WindowStart.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        var end = summary.WindowEnd.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        var messageId = await sns.PublishAsync(
            topicArn,
            JsonSerializer.Serialize(summary, SummaryJsonContext.Default.Summary),
            summary.Revision == 0 ? $"Event summary {start} to {end} UTC" : $"Event summary {start} to {end} UTC (revision {summary.Revision})",
            new Dictionary<string, string>
            {
                ["windowStart"] = summary.WindowStart.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                ["windowEnd"] = summary.WindowEnd.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                ["totalEvents"] = summary.TotalEvents.ToString(CultureInfo.InvariantCulture),
                ["revision"] = summary.Revision.ToString(CultureInfo.InvariantCulture),
            },
            cancellationToken).ConfigureAwait(false);
        await store.MarkPublishedAsync(summary, messageId, cancellationToken).ConfigureAwait(false);
    }
}
