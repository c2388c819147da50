using Amazon.DynamoDBv2.Model;
using Pipeline.Aggregator;
using Pipeline.Events;
using Pipeline.Processor;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed class StatusCommandTests
{
    [Fact]
    public async Task Status_shows_the_dlq_depth_the_events_of_the_last_hour_and_the_latest_summary()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        for (var i = 0; i < 3; i++)
        {
            await aws.Sqs.SendMessageAsync(stack.Resources["EventsDeadLetterQueue"].Ref, $"dead {i}");
        }
        foreach (var minutesAgo in new[] { 5, 20, 90 })
        {
            await aws.DynamoDb.PutItemAsync(stack["EventsTable"], EventStore.ToItem(new QueuedEvent
            {
                SchemaVersion = QueuedEvent.CurrentSchemaVersion,
                EventId = Guid.NewGuid().ToString(),
                EventType = "page_view",
                UserId = "u",
                OccurredAt = DateTimeOffset.UtcNow.AddMinutes(-minutesAgo),
                ReceivedAt = DateTimeOffset.UtcNow.AddMinutes(-minutesAgo),
                RequestId = "r",
            }, TimeSpan.FromDays(1)));
        }
        var window = SummaryWindows.Containing(DateTimeOffset.UtcNow.AddHours(-2), TimeSpan.FromHours(1));
        await new SummaryStore(aws.DynamoDb, stack["SummariesTable"]).StoreAsync(new Summary
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
        }, CancellationToken.None);

        using var output = new StringWriter();
        Assert.Equal(0, await LocalCommands.RunAsync(["status", "--stack", stack.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString(),
            "--endpoint", aws.Endpoints.DynamoDb.ToString()], output, CancellationToken.None));

        var screen = output.ToString();
        Assert.Contains("dead letters   3", screen, StringComparison.Ordinal);
        Assert.Contains("stored         2 events in the last hour", screen, StringComparison.Ordinal);
        Assert.Contains($"{window.Start:yyyy-MM-dd HH:mm}      4242  rev 0", screen, StringComparison.Ordinal);
        Assert.Contains("local processes:", screen, StringComparison.Ordinal);
    }
}
