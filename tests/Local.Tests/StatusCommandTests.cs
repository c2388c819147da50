using System.Text.Json;
using Amazon.DynamoDBv2.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Pipeline.Aggregator;
using Pipeline.Cli.Commands;
using Pipeline.Events;
using Pipeline.Local.Emulators;
using Pipeline.Storage;
using Pipeline.Summaries;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed class StatusCommandTests
{
    private static readonly int[] MinutesAgo = [5, 20, 90];

    [Fact]
    public async Task Status_shows_the_dlq_depth_the_archive_of_the_last_hour_late_markers_and_the_latest_summary()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        for (var i = 0; i < 3; i++)
        {
            await aws.Sqs.SendMessageAsync(stack.Resources["EventsDeadLetterQueue"].Ref, $"dead {i}");
        }
        // Stored events as the Processor archives them, a batch each; one received days ago leaves a late marker.
        var now = DateTimeOffset.UtcNow;
        var archive = new Pipeline.Processor.EventArchive(aws.S3, stack["ArchiveBucket"], TimeSpan.FromHours(2), TimeProvider.System);
        foreach (var minutesAgo in MinutesAgo.Append(3 * 24 * 60))
        {
            await archive.WriteAsync([new QueuedEvent
            {
                SchemaVersion = QueuedEvent.CurrentSchemaVersion,
                EventId = Guid.NewGuid().ToString(),
                EventType = "page_view",
                UserId = "u",
                OccurredAt = now.AddMinutes(-minutesAgo),
                ReceivedAt = now.AddMinutes(-minutesAgo),
                RequestId = "r",
            }], now.AddSeconds(30), CancellationToken.None);
        }
        var expected = MinutesAgo.Count(m => EventLayout.Hour(now.AddMinutes(-m)) >= EventLayout.Hour(now).AddHours(-1));
        var window = SummaryWindows.Containing(DateTimeOffset.UtcNow.AddHours(-2), TimeSpan.FromHours(1));
        await new SummaryStore(aws.DynamoDb, stack["SummariesTable"], TimeProvider.System).StoreAsync(new Summary
        {
            WindowStart = window.Start,
            WindowEnd = window.End,
            TotalEvents = 4242,
            ByEventType = new Dictionary<string, long> { ["page_view"] = 4242 },
            UniqueUsers = 1,
            UniqueAnonymousIds = 0,
            Rejected = 0,
            DeadLetterDepth = 0,
            GeneratedAt = DateTimeOffset.UtcNow,
        }, "", CancellationToken.None);

        using var output = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(["status", "--stack", stack.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString(),
            "--endpoint", aws.Endpoints.DynamoDb.ToString()], output, CancellationToken.None));

        var screen = output.ToString();
        Assert.Matches(Row("dead letters", "3 (see: redrive --dry-run)"), screen);
        Assert.Matches(Row("archived", $"{expected} object(s), 0.0 MB of events received this hour and the last (raw and compacted)"), screen);
        Assert.Matches(Row("late markers", "1 (hours the Aggregator's next run counts again)"), screen);
        Assert.Matches(Row($"{window.Start:yyyy-MM-dd HH:mm}", "4242", "0"), screen);
        Assert.Contains("local process", screen, StringComparison.Ordinal);
    }

    [Fact]
    public async Task For_a_deployed_stack_status_shows_the_oldest_messages_age_and_the_alarms_in_alarm_from_cloudwatch()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var requests = new System.Collections.Concurrent.ConcurrentBag<(string Form, string Authorization)>();
        // CloudWatch's Query API answers, as documented (DescribeAlarms, GetMetricStatistics), from a loopback server.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var cloudWatch = builder.Build();
        cloudWatch.Run(async context =>
        {
            var form = await new StreamReader(context.Request.Body).ReadToEndAsync();
            requests.Add((form, context.Request.Headers.Authorization.ToString()));
            context.Response.ContentType = "text/xml";
            await context.Response.WriteAsync(form.Contains("Action=DescribeAlarms", StringComparison.Ordinal)
                ? $"""
                    <DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><DescribeAlarmsResult><MetricAlarms>
                      <member>
                        <AlarmName>{stack.StackName}-prod-dlq</AlarmName><StateValue>ALARM</StateValue>
                        <StateReason>Threshold Crossed: 1 datapoint [3.0] was greater than 0.0</StateReason>
                      </member>
                    </MetricAlarms></DescribeAlarmsResult></DescribeAlarmsResponse>
                    """
                : """
                    <GetMetricStatisticsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><GetMetricStatisticsResult><Datapoints>
                      <member><Timestamp>2026-11-24T10:00:00Z</Timestamp><Maximum>17.0</Maximum><Unit>Seconds</Unit></member>
                      <member><Timestamp>2026-11-24T10:01:00Z</Timestamp><Maximum>42.0</Maximum><Unit>Seconds</Unit></member>
                    </Datapoints><Label>ApproximateAgeOfOldestMessage</Label></GetMetricStatisticsResult></GetMetricStatisticsResponse>
                    """);
        });
        await cloudWatch.StartAsync();
        var reader = CloudWatchReader.Create(Pipeline.Local.Emulators.LocalAws.Credentials, Amazon.RegionEndpoint.EUWest1, new Uri(cloudWatch.Urls.Single()));

        var resources = Pipeline.Cli.StackResources.Local(stack.StackName) with { Version = "0.0.1" };
        var target = new StatusCommand.Target(aws.Sqs, aws.DynamoDb, aws.S3, stack.StackName, resources, false, reader);
        var screen = Pipeline.Cli.Terminal.Text(await StatusCommand.ScreenAsync(target, DateTimeOffset.UtcNow, CancellationToken.None));

        Assert.Contains($"warning: the stack runs 0.0.1, this tool is {Pipeline.ProductVersion.Current}", screen, StringComparison.Ordinal);
        Assert.Matches(Row("oldest message", "42 s"), screen); // the latest datapoint
        Assert.Matches(Row($"{stack.StackName}-prod-dlq", "Threshold Crossed: 1 datapoint [3.0] was greater than 0.0"), screen);
        Assert.DoesNotContain("local processes", screen, StringComparison.Ordinal);
        Assert.Contains(requests, r =>
            r.Form.Contains("StateValue=ALARM", StringComparison.Ordinal) && r.Form.Contains($"AlarmNamePrefix={stack.StackName}-", StringComparison.Ordinal));
        Assert.Contains(requests, r =>
            r.Form.Contains("MetricName=ApproximateAgeOfOldestMessage", StringComparison.Ordinal) && r.Form.Contains($"{stack.StackName}-events", StringComparison.Ordinal));
        Assert.All(requests, r => Assert.Contains("/eu-west-1/monitoring/aws4_request", r.Authorization, StringComparison.Ordinal));
    }

    // A table row of these cells, as the status screen draws it.
    private static string Row(params string[] cells) =>
        "│ " + string.Join(@"\s*│ ", cells.Select(System.Text.RegularExpressions.Regex.Escape)) + @"\s*│";
}
