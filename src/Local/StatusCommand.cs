using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.SQS;
using Pipeline.Aggregator;
using Pipeline.Storage;

namespace Pipeline.Local;

/// <summary>
/// <c>status [--watch]</c>: one screen of how the pipeline is doing: the queue and the DLQ, what was archived in the last hour,
/// the latest summaries, records rejected in the last day and, locally, which processes are up.
/// </summary>
public static class StatusCommand
{
    internal const string Usage = """
          status [--watch]            queue and DLQ depth, what was archived in the last hour, late markers, the latest summaries,
                                      records rejected in the last day, and (locally) which processes are up
            options: --stack NAME  --bucket BUCKET (the archive; a deployed stack's ArchiveBucketName output)
                     --profile PROFILE  --region REGION  --interval SECONDS (with --watch, default 5)
        """;

    /// <summary>The clients and names one status screen reads.</summary>
    /// <param name="Sqs">SQS.</param>
    /// <param name="DynamoDb">DynamoDB.</param>
    /// <param name="S3">S3.</param>
    /// <param name="Stack">The stack name the queues and tables are named after.</param>
    /// <param name="Bucket">The archive bucket.</param>
    /// <param name="Local">True for the local environment (then the processes are listed).</param>
    /// <param name="CloudWatch">For a deployed stack: its queue metrics and alarms.</param>
    public sealed record Target(IAmazonSQS Sqs, IAmazonDynamoDB DynamoDb, IAmazonS3 S3, string Stack, string Bucket, bool Local, CloudWatchReader? CloudWatch = null);

    /// <summary>Prints the screen once, or every interval until cancelled with <paramref name="watch"/>.</summary>
    public static async Task<int> RunAsync(Target target, bool watch, TimeSpan interval, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(output);
        do
        {
            var screen = await ScreenAsync(target, DateTimeOffset.UtcNow, cancellationToken);
            if (watch && !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out))
            {
                Console.Clear();
            }
            await output.WriteAsync(screen);
            if (watch)
            {
                await Task.Delay(interval, cancellationToken);
            }
        }
        while (watch && !cancellationToken.IsCancellationRequested);
        return 0;
    }

    /// <summary>The screen at <paramref name="now"/>.</summary>
    public static async Task<string> ScreenAsync(Target target, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var lines = new List<string> { $"Event pipeline '{target.Stack}' at {now:yyyy-MM-dd HH:mm:ss} UTC", "" };
        var queue = await DepthAsync(target.Sqs, $"{target.Stack}-events", cancellationToken);
        var dlq = await DepthAsync(target.Sqs, $"{target.Stack}-events-dlq", cancellationToken);
        lines.Add($"  queue          {queue.Visible} waiting, {queue.InFlight} in flight");
        var oldest = target.CloudWatch is { } cloudWatch
            ? await cloudWatch.LatestQueueMaximumAsync($"{target.Stack}-events", "ApproximateAgeOfOldestMessage", now, cancellationToken) is { } age
                ? string.Create(CultureInfo.InvariantCulture, $"{age:0} s") : "no data in the last 15 minutes"
            : "n/a locally (a CloudWatch metric of the deployed queue)";
        lines.Add($"  oldest message {oldest}");
        lines.Add($"  dead letters   {dlq.Visible}{(dlq.Visible > 0 ? "   (see: redrive --dry-run)" : "")}");
        var (objects, bytes, more) = await ArchivedAsync(target, now, cancellationToken);
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"  archived       {(more ? "over " : "")}{objects} object(s), {bytes / 1048576.0:0.0} MB of events received this hour and the last (raw and compacted)"));
        var (late, moreLate) = await ListBoundedAsync(target, EventLayout.LateRoot, MaxListed, cancellationToken);
        lines.Add($"  late markers   {(moreLate ? "over " : "")}{late.Count} (hours the Aggregator's next run counts again)");
        lines.Add($"  rejected       {await RejectedAsync(target, now, cancellationToken)} records in the last day");
        lines.Add("");
        lines.Add("  latest summaries (window start, events, revision):");
        var summaries = await new SummaryStore(target.DynamoDb, $"{target.Stack}-summaries", TimeProvider.System).RecentAsync(5, cancellationToken);
        lines.AddRange(summaries.Count == 0
            ? ["    none yet"]
            : summaries.Select(s => FormattableString.Invariant($"    {s.WindowStart:yyyy-MM-dd HH:mm}  {s.TotalEvents,8}  rev {s.Revision}")));
        if (target.CloudWatch is { } alarms)
        {
            var firing = await alarms.AlarmsInAlarmAsync($"{target.Stack}-", cancellationToken);
            lines.Add("");
            lines.Add($"  alarms in ALARM: {(firing.Count == 0 ? "none" : "")}");
            lines.AddRange(firing.Select(a => $"    {a.Name}: {a.Reason}"));
        }
        if (target.Local)
        {
            lines.Add("");
            lines.Add("  local processes:");
            lines.AddRange(LocalProcesses().DefaultIfEmpty("    none running (start them with: dotnet run --project src/Local)"));
        }
        return string.Join('\n', lines) + "\n";
    }

    private static async Task<(int Visible, int InFlight)> DepthAsync(IAmazonSQS sqs, string name, CancellationToken cancellationToken)
    {
        var url = (await sqs.GetQueueUrlAsync(name, cancellationToken)).QueueUrl;
        var attributes = await sqs.GetQueueAttributesAsync(url, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"], cancellationToken);
        return (attributes.ApproximateNumberOfMessages, attributes.ApproximateNumberOfMessagesNotVisible);
    }

    // Most objects a status screen lists under one prefix: what it reads stays bounded however large the archive is.
    private const int MaxListed = 10_000;

    // The archive objects (and their bytes) of this hour and the last, from listings only: never the events themselves.
    private static async Task<(int Objects, long Bytes, bool More)> ArchivedAsync(Target target, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (previous, morePrevious) = await ListBoundedAsync(target, EventLayout.EventsPrefix(now.AddHours(-1)), MaxListed, cancellationToken);
        var (current, moreCurrent) = await ListBoundedAsync(target, EventLayout.EventsPrefix(now), MaxListed, cancellationToken);
        // Compacted hours: one Parquet file each (compacting the last hour locally with `compact` is not to read as nothing archived).
        var (compacted, _) = await ListBoundedAsync(target, EventLayout.ParquetPrefix(now.AddHours(-1)), 1, cancellationToken);
        var (compactedNow, _) = await ListBoundedAsync(target, EventLayout.ParquetPrefix(now), 1, cancellationToken);
        var all = previous.Concat(current).Concat(compacted).Concat(compactedNow).ToList();
        return (all.Count, all.Sum(o => o.Size ?? 0), morePrevious || moreCurrent);
    }

    private static async Task<(List<S3Object> Objects, bool More)> ListBoundedAsync(Target target, string prefix, int max, CancellationToken cancellationToken)
    {
        var objects = new List<S3Object>();
        string? token = null;
        do
        {
            var page = await target.S3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = target.Bucket, Prefix = prefix, ContinuationToken = token }, cancellationToken);
            objects.AddRange(page.S3Objects ?? []);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null && objects.Count < max);
        return (objects, token is not null);
    }

    private static async Task<int> RejectedAsync(Target target, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var count = 0;
        for (var hour = now.AddHours(-24); hour <= now; hour = hour.AddHours(1))
        {
            string? token = null;
            do
            {
                var page = await target.S3.ListObjectsV2Async(new ListObjectsV2Request
                {
                    BucketName = target.Bucket,
                    Prefix = $"rejected/{EventLayout.Partition(hour)}/",
                    ContinuationToken = token,
                }, cancellationToken);
                count += (page.S3Objects ?? []).Count(o => o.LastModified is { } modified && modified.ToUniversalTime() >= now.AddDays(-1).UtcDateTime);
                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            }
            while (token is not null);
        }
        return count;
    }

    // The function processes the local Lambda started (their command lines name the programs), on Linux.
    private static IEnumerable<string> LocalProcesses()
    {
        foreach (var process in System.Diagnostics.Process.GetProcessesByName("dotnet"))
        {
            string commandLine;
            try
            {
                commandLine = File.ReadAllText($"/proc/{process.Id}/cmdline").Replace('\0', ' ');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            foreach (var program in new[] { "Pipeline.Processor.dll", "Pipeline.Aggregator.dll" })
            {
                if (commandLine.Contains(program, StringComparison.Ordinal))
                {
                    yield return string.Create(CultureInfo.InvariantCulture, $"    {Path.GetFileNameWithoutExtension(program),-20} pid {process.Id}");
                }
            }
        }
    }
}
