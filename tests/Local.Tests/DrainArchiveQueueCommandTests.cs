using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Archive;
using Pipeline.Events;
using Pipeline.Storage;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed class DrainArchiveQueueCommandTests
{
    [Fact]
    public async Task The_stored_events_left_in_an_archive_queue_by_the_previous_version_are_archived_with_late_markers_and_the_queue_emptied()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        // The queue the previous template had, retained by the stack update, holding batch messages of stored events.
        var queue = (await aws.Sqs.CreateQueueAsync($"{stack.StackName}-archive")).QueueUrl;
        var hour = EventLayout.Hour(DateTimeOffset.UtcNow.AddHours(-5));
        var events = Enumerable.Range(0, 25).Select(i => new QueuedEvent
        {
            SchemaVersion = QueuedEvent.CurrentSchemaVersion,
            EventId = $"queued-{i:D2}",
            EventType = "page_view",
            UserId = "u",
            OccurredAt = hour.AddMinutes(i * 5),
            ReceivedAt = hour.AddMinutes(i * 5), // three hours
            RequestId = "r",
        }).ToList();
        foreach (var chunk in events.Chunk(4))
        {
            await aws.Sqs.SendMessageAsync(queue, EventBatchMessage.Pack(chunk.Select(e => JsonSerializer.Serialize(e, EventJsonContext.Default.QueuedEvent))).Single());
        }
        await aws.Sqs.SendMessageAsync(queue, "not a batch of stored events");

        using var output = new StringWriter();
        Assert.Equal(0, await LocalCommands.RunAsync(["drain-archive-queue", "--stack", stack.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString()], output, CancellationToken.None));

        Assert.Contains("Done: 25 event(s) written to the archive", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("is not a batch of stored events; left in", output.ToString(), StringComparison.Ordinal);
        var archived = new List<string>();
        foreach (var o in await ArchiveListing.ListAsync(aws.S3, stack["ArchiveBucket"], EventLayout.EventsRoot, CancellationToken.None))
        {
            using var response = await aws.S3.GetObjectAsync(stack["ArchiveBucket"], o.Key);
            using var reader = new StreamReader(new GZipStream(response.ResponseStream, CompressionMode.Decompress));
            var lines = (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
            Assert.All(lines, l => Assert.StartsWith(EventLayout.EventsPrefix(l["receivedAt"]!.GetValue<DateTimeOffset>()), o.Key, StringComparison.Ordinal));
            archived.AddRange(lines.Select(l => l["eventId"]!.GetValue<string>()));
        }
        Assert.Equal(events.Select(e => e.EventId), archived.Order(StringComparer.Ordinal));
        var markers = await ArchiveListing.ListAsync(aws.S3, stack["ArchiveBucket"], EventLayout.LateRoot, CancellationToken.None);
        Assert.Equal(events.Select(e => EventLayout.Hour(e.ReceivedAt)).Distinct(), markers.Select(m => EventLayout.HourOf(m.Key)!.Value).Distinct().Order());
        var left = await aws.Sqs.GetQueueAttributesAsync(queue, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]);
        Assert.Equal(1, left.ApproximateNumberOfMessages + left.ApproximateNumberOfMessagesNotVisible); // only the stranger
    }
}
