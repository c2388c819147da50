using System.Globalization;
using System.Text.Json.Nodes;
using Amazon.S3.Model;
using Amazon.SQS;
using Amazon.SQS.Model;
using Pipeline.Importer;
using Pipeline.Lambda;
using Pipeline.Local.CloudFormation;
using Pipeline.Local.Emulators;
using Pipeline.Tests;

namespace Pipeline.Import.Tests;

/// <summary>
/// Runs of the import that die, or stop at their deadline, where the record and the saved occurrences disagree: the
/// import still finishes, every line once, each with one eventId of its own. The runs are made in this process, one by
/// one (no notification watcher, no function process), on a clock that lets the record move after every send.
/// </summary>
public sealed class ResumeTests
{
    private const int Rows = 3500;

    // Identical rows without an eventId: each gets an id derived from its bytes and its occurrence within the file, so the
    // occurrences counted before a line must be right for its id to be its own.
    private static string File() => ImportHarness.Lines(Enumerable.Range(1, Rows).Select(_ => (object)new { eventType = "same", userId = "u" }));

    [Fact]
    public async Task A_continuation_retried_after_its_invocation_moved_the_record_and_died_still_finishes_the_file()
    {
        var (aws, stack) = await SetUpAsync();
        var job = await UploadAsync(aws, stack);

        // The notification's run stops at once (its deadline passed) and leaves a continuation at line 0.
        await Run(aws, stack).RunAsync(job, DateTimeOffset.UtcNow.AddSeconds(-1), "r1", CancellationToken.None);
        var continuation = job with { Continued = true };
        // The continuation's run moves the record after its first two sends, then its third send fails: the invocation
        // fails and SQS delivers the same continuation (line 0) again.
        await Assert.ThrowsAsync<AmazonSQSException>(() =>
            Run(aws, stack, failAtLine: 2001, clock: new TickingClock()).RunAsync(continuation, DateTimeOffset.UtcNow.AddDays(1), "r2", CancellationToken.None));
        Assert.Equal(2000, (await Records(aws, stack).ReadAsync(job, CancellationToken.None))!.Line);

        await Run(aws, stack).RunAsync(continuation, DateTimeOffset.UtcNow.AddMinutes(5), "r3", CancellationToken.None);

        var record = await Records(aws, stack).ReadAsync(job, CancellationToken.None);
        Assert.Equal(ImportProgress.Imported, record!.Status);
        Assert.Equal(Rows, record.Accepted);
        AssertEveryLineOnce(await QueuedAsync(aws, stack));
    }

    [Fact]
    public async Task A_run_that_reaches_its_deadline_while_counting_the_lines_before_the_record_does_not_save_a_partial_count()
    {
        var (aws, stack) = await SetUpAsync();
        var job = await UploadAsync(aws, stack);

        // The first run moves the record to line 1000, then dies (its second send fails).
        await Assert.ThrowsAsync<AmazonSQSException>(() =>
            Run(aws, stack, failAtLine: 1001, clock: new TickingClock()).RunAsync(job, DateTimeOffset.UtcNow.AddDays(1), "r1", CancellationToken.None));
        Assert.Equal(1000, (await Records(aws, stack).ReadAsync(job, CancellationToken.None))!.Line);

        // The notification again: it counts lines 1 to 1000 again, and its deadline has passed by then. A continuation at
        // line 1000 must carry the occurrences of all 1000 lines, not of those counted when the deadline came.
        await Run(aws, stack).RunAsync(job, DateTimeOffset.UtcNow.AddSeconds(-1), "r2", CancellationToken.None);
        await Run(aws, stack).RunAsync(job with { Line = 1000, Offset = 1000L * Line.Length, Continued = true }, DateTimeOffset.UtcNow.AddMinutes(5), "r3",
            CancellationToken.None);

        var record = await Records(aws, stack).ReadAsync(job, CancellationToken.None);
        Assert.Equal(ImportProgress.Imported, record!.Status);
        Assert.Equal(Rows, record.Accepted);
        AssertEveryLineOnce(await QueuedAsync(aws, stack));
    }

    private const string Line = "{\"eventType\":\"same\",\"userId\":\"u\"}\n";

    private static void AssertEveryLineOnce(List<JsonNode> queued)
    {
        var byLine = queued.GroupBy(e => (long)e["importLine"]!).ToDictionary(g => g.Key, g => g.Select(e => (string)e["eventId"]!).Distinct().ToList());
        Assert.Equal(Enumerable.Range(1, Rows).Select(i => (long)i), byLine.Keys.Order());
        Assert.All(byLine.Values, ids => Assert.Single(ids));
        Assert.Equal(Rows, byLine.Values.Select(ids => ids[0]).Distinct().Count()); // no two lines share an id: each is stored
    }

    private static async Task<(LocalAws Aws, ProvisionedResources Stack)> SetUpAsync()
    {
        var aws = await TestEnvironment.CreateClientsAsync();
        return (aws, await TestEnvironment.ProvisionAsync(aws));
    }

    private static ImporterOptions Options(ProvisionedResources stack) =>
        ImporterOptions.FromEnvironment(stack.FunctionEnvironment("ImportFunction").GetValueOrDefault);

    private static ImportRecords Records(LocalAws aws, ProvisionedResources stack) => new(aws.DynamoDb, Options(stack).TableName);

    private static async Task<ImportJob> UploadAsync(LocalAws aws, ProvisionedResources stack)
    {
        Assert.Equal(File(), string.Concat(Enumerable.Repeat(Line, Rows)));
        var bucket = Options(stack).BucketName;
        var put = await aws.S3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "uploads/same.jsonl", ContentBody = File() });
        return new ImportJob(bucket, "uploads/same.jsonl", put.ETag.Trim('"'));
    }

    private static ImportRun Run(LocalAws aws, ProvisionedResources stack, long failAtLine = 0, TimeProvider? clock = null)
    {
        var options = Options(stack);
        IAmazonSQS sqs = failAtLine > 0 ? new FailingSqs(aws, failAtLine) : aws.Sqs;
        return new ImportRun(options, aws.S3, sqs, aws.Sns, Records(aws, stack), aws.DynamoDb, clock ?? TimeProvider.System, new FunctionLog(TextWriter.Null, "import"));
    }

    private static async Task<List<JsonNode>> QueuedAsync(LocalAws aws, ProvisionedResources stack)
    {
        var events = new List<JsonNode>();
        while (true)
        {
            var page = await aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest
            {
                QueueUrl = stack.Resources["ImportEventsQueue"].Ref,
                MaxNumberOfMessages = 10,
                VisibilityTimeout = 600,
            });
            if (page.Messages is not { Count: > 0 } messages)
            {
                return events;
            }
            events.AddRange(messages.SelectMany(m => JsonNode.Parse(m.Body)!["events"]!.AsArray().Select(e => e!)));
        }
    }

    // A clock two seconds on at every reading: the record moves after every send (its interval is a second).
    private sealed class TickingClock : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UtcNow;

        public override DateTimeOffset GetUtcNow() => _now = _now.AddSeconds(2);
    }

    // The import events queue fails the send of line failAtLine, as an outage would.
    private sealed class FailingSqs(LocalAws aws, long failAtLine) : AmazonSQSClient(LocalAws.Credentials, new AmazonSQSConfig
    {
        ServiceURL = aws.Endpoints.Fauxqs.ToString(),
        AuthenticationRegion = "us-east-1",
    })
    {
        public override Task<SendMessageBatchResponse> SendMessageBatchAsync(SendMessageBatchRequest request, CancellationToken cancellationToken = default) =>
            request.Entries.Any(e => System.Text.RegularExpressions.Regex.IsMatch(e.MessageBody, $"\"importLine\":{failAtLine}\\D"))
                ? throw new AmazonSQSException("The queue is unavailable (a test's outage).")
                : base.SendMessageBatchAsync(request, cancellationToken);
    }
}
