using System.CommandLine;
using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.SQS;
using Pipeline.Archive;
using Pipeline.Cli;
using Pipeline.Storage;
using Pipeline.Summaries;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>status [--watch]</c>: one screen of how the pipeline is doing: the queue and the DLQ, what was archived in the last hour,
/// the latest summaries, records rejected in the last day and, locally, which processes are up.
/// </summary>
public static class StatusCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var watch = new Option<bool>("--watch") { Description = "show the screen again every interval, until Ctrl-C" };
        var interval = new Option<int>("--interval") { Description = "with --watch: seconds between screens", HelpName = "SECONDS", DefaultValueFactory = _ => 5 };
        interval.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--interval must be at least 1 second.");
            }
        });
        var command = new Command("status", """
            queue and DLQ depth, what was archived in the last hour, late markers, the latest summaries, records
            rejected in the last day, and (locally) which processes are up
            """)
        {
            watch, interval,
        };
        StackTarget.AddOptions(command, Services.Sqs | Services.S3 | Services.DynamoDb, cloudWatch: true);
        command.SetAction(async (r, ct) =>
        {
            var stack = new StackTarget(r);
            using var sqs = stack.Sqs();
            using var dynamoDb = stack.DynamoDb();
            using var s3 = stack.S3();
            var target = new Target(sqs, dynamoDb, s3, stack.Stack, await stack.ResourcesAsync(ct), !stack.Deployed, stack.Deployed ? stack.CloudWatch() : null);
            return await RunAsync(target, r.GetValue(watch), TimeSpan.FromSeconds(r.GetValue(interval)), r.InvocationConfiguration.Output, ct);
        });
        return command;
    }

    /// <summary>The clients and names one status screen reads.</summary>
    /// <param name="Sqs">SQS.</param>
    /// <param name="DynamoDb">DynamoDB.</param>
    /// <param name="S3">S3.</param>
    /// <param name="Stack">The stack's name.</param>
    /// <param name="Resources">Its queues, tables and bucket, and the release it runs.</param>
    /// <param name="Local">True for the local environment (then the processes are listed).</param>
    /// <param name="CloudWatch">For a deployed stack: its queue metrics and alarms.</param>
    public sealed record Target(IAmazonSQS Sqs, IAmazonDynamoDB DynamoDb, IAmazonS3 S3, string Stack, StackResources Resources, bool Local, CloudWatchReader? CloudWatch = null);

    /// <summary>Prints the screen once, or every interval until cancelled with <paramref name="watch"/>.</summary>
    public static async Task<int> RunAsync(Target target, bool watch, TimeSpan interval, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var console = Terminal.For(output);
        do
        {
            var screen = await ScreenAsync(target, TimeProvider.System.GetUtcNow(), cancellationToken);
            if (watch && Terminal.IsLive(output))
            {
                console.Clear();
            }
            console.Write(screen);
            if (watch)
            {
                await Task.Delay(interval, cancellationToken);
            }
        }
        while (watch && !cancellationToken.IsCancellationRequested);
        return 0;
    }

    /// <summary>The screen at <paramref name="now"/>.</summary>
    public static async Task<IRenderable> ScreenAsync(Target target, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var parts = new List<IRenderable> { new Text($"Event pipeline '{target.Stack}' at {now:yyyy-MM-dd HH:mm:ss} UTC") };
        if (target.Resources.Version is { } deployed && deployed != ProductVersion.Current)
        {
            parts.Add(new Text($"warning: the stack runs {deployed}, this tool is {ProductVersion.Current}: upgrade one of them (docs/deploy.md)."));
        }
        var queue = await DepthAsync(target.Sqs, target.Resources.EventsQueue, cancellationToken);
        var dlq = await DepthAsync(target.Sqs, target.Resources.DeadLetterQueue, cancellationToken);
        var oldest = target.CloudWatch is { } cloudWatch
            ? await cloudWatch.LatestQueueMaximumAsync(target.Resources.EventsQueue, "ApproximateAgeOfOldestMessage", now, cancellationToken) is { } age
                ? string.Create(CultureInfo.InvariantCulture, $"{age:0} s") : "no data in the last 15 minutes"
            : "n/a locally (a CloudWatch metric of the deployed queue)";
        var (objects, bytes, more) = await ArchivedAsync(target, now, cancellationToken);
        var (late, moreLate) = await ListBoundedAsync(target, EventLayout.LateRoot, MaxListed, cancellationToken);
        var health = Terminal.Table("measure", "now").HideHeaders();
        health.AddRow("queue", $"{queue.Visible} waiting, {queue.InFlight} in flight");
        if (target.Resources.ImportEventsQueue is { } imports)
        {
            var imported = await DepthAsync(target.Sqs, imports, cancellationToken);
            health.AddRow("imported rows", $"{imported.Visible} message(s) waiting, {imported.InFlight} in flight (their own queue: live events never wait behind them)");
        }
        health.AddRow("oldest message", Markup.Escape(oldest));
        health.AddRow("dead letters", $"{dlq.Visible}{(dlq.Visible > 0 ? " (see: redrive --dry-run)" : "")}");
        health.AddRow("archived", Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"{(more ? "over " : "")}{objects} object(s), {bytes / 1048576.0:0.0} MB of events received this hour and the last (raw and compacted)")));
        health.AddRow("late markers", $"{(moreLate ? "over " : "")}{late.Count} (hours the Aggregator's next run counts again)");
        var rejected = await ArchiveListing.RejectedAsync(target.S3, target.Resources.ArchiveBucket, now.AddDays(-1), now.AddTicks(1), cancellationToken);
        health.AddRow("rejected", $"{rejected} records in the last day");
        var store = new SummaryStore(target.DynamoDb, target.Resources.SummariesTable, TimeProvider.System);
        health.AddRow("last Aggregator run", Markup.Escape(await store.LastRunAsync(cancellationToken) is { } run
            ? FormattableString.Invariant($"{run.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, ")
                + (run.Failures.Count == 0 ? "no failure" : $"{run.Failures.Count} failure(s): {string.Join("; ", run.Failures)}")
            : "none yet"));
        parts.Add(health);

        var summaries = Terminal.Table("window start (UTC)", "events", "revision").Title("latest summaries");
        foreach (var s in await store.RecentAsync(5, cancellationToken))
        {
            summaries.AddRow(
                FormattableString.Invariant($"{s.WindowStart:yyyy-MM-dd HH:mm}"),
                s.TotalEvents.ToString(CultureInfo.InvariantCulture),
                s.Revision.ToString(CultureInfo.InvariantCulture));
        }
        parts.Add(summaries.Rows.Count == 0 ? new Text("latest summaries: none yet") : summaries);
        if (target.CloudWatch is { } alarms)
        {
            var firing = Terminal.Table("alarm", "reason").Title("alarms in ALARM");
            foreach (var (name, reason) in await alarms.AlarmsInAlarmAsync($"{target.Stack}-", cancellationToken))
            {
                firing.AddRow(Markup.Escape(name), Markup.Escape(reason));
            }
            parts.Add(firing.Rows.Count == 0 ? new Text("alarms in ALARM: none") : firing);
        }
        if (target.Local)
        {
            var processes = Terminal.Table("local process", "pid");
            foreach (var (program, pid) in LocalProcesses())
            {
                processes.AddRow(program, pid.ToString(CultureInfo.InvariantCulture));
            }
            parts.Add(processes.Rows.Count == 0 ? new Text("local processes: none running (start them with: dotnet run --project src/Local)") : processes);
        }
        return new Rows(parts);
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
            var request = new ListObjectsV2Request { BucketName = target.Resources.ArchiveBucket, Prefix = prefix, ContinuationToken = token };
            var page = await target.S3.ListObjectsV2Async(request, cancellationToken);
            objects.AddRange(page.S3Objects ?? []);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null && objects.Count < max);
        return (objects, token is not null);
    }

    // The function processes the local Lambda started (their command lines name the programs), on Linux.
    private static IEnumerable<(string Program, int Pid)> LocalProcesses()
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
            foreach (var program in new[] { "Pipeline.Api.dll", "Pipeline.Processor.dll", "Pipeline.Aggregator.dll" })
            {
                if (commandLine.Contains(program, StringComparison.Ordinal))
                {
                    yield return (Path.GetFileNameWithoutExtension(program), process.Id);
                }
            }
        }
    }
}
