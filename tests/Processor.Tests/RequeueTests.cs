using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Amazon.SQS.Model;
using Pipeline.Lambda;
using Pipeline.Local.Emulators;
using Pipeline.Tests;

namespace Pipeline.Processor.Tests;

/// <summary>
/// What a throttled batch hands back to its queue (<see cref="CapacityRequeue"/>, docs/architecture.md D21), against the
/// real local servers, with DynamoDB's answers for chosen events replaced by a throttle, a server error or a reset connection.
/// The Processor's DynamoDB client is configured as its program configures it: no retries of the SDK's own.
/// </summary>
public sealed class RequeueTests
{
    // A short invocation: about 4.5 s of writes, then about 1.5 s for the archive and the requeue before the budget ends
    // (at 3 s that was 0.56 s, which a loaded machine could overrun, reporting the throttled message failed instead).
    private static readonly TimeSpan Invocation = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task A_message_whose_writes_fail_with_server_errors_is_reported_failed_even_if_another_message_was_throttled()
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var throttled = ProcessorHarness.Event(1);
        var broken = ProcessorHarness.Event(2);
        var answers = new Answers { [throttled.EventId] = Answer.Throttle, [broken.EventId] = Answer.ServerError };
        using var dynamoDb = Client(harness, answers);
        var messages = new[] { FromQueue(harness, ProcessorHarness.Message(throttled)), FromQueue(harness, ProcessorHarness.Message(broken)) };

        var failures = await ProcessorHarness.InvokeAsync(harness.Function(dynamoDb), messages, Invocation);

        // The throttled message goes back as a new message; the one DynamoDB failed (HTTP 500 to the end) is a fault, not
        // throttling: reported failed, it counts its receives toward the dead-letter queue (D21).
        Assert.Equal([messages[1].MessageId], failures);
        var requeued = await ReceiveAllAsync(harness);
        Assert.Equal([throttled.EventId], requeued.Select(m => ProcessorHarness.EventId(new SqsMessage { Body = m.Body })));
    }

    [Fact]
    public async Task A_requeued_single_event_keeps_its_message_attributes()
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var e = ProcessorHarness.Event(1);
        using var dynamoDb = Client(harness, new Answers { [e.EventId] = Answer.Throttle });
        var message = FromQueue(harness, ProcessorHarness.Message(e)) with
        {
            MessageAttributes = new Dictionary<string, SqsMessageAttributeValue> { ["eventType"] = new() { DataType = "String", StringValue = e.EventType } },
        };

        Assert.Empty(await ProcessorHarness.InvokeAsync(harness.Function(dynamoDb), [message], Invocation));

        var requeued = Assert.Single(await ReceiveAllAsync(harness));
        Assert.Equal(message.Body, requeued.Body);
        Assert.Equal(e.EventType, Assert.Contains("eventType", requeued.MessageAttributes ?? []).StringValue);
    }

    [Fact]
    public async Task Without_the_sdks_retries_a_server_error_and_a_reset_connection_are_still_retried_and_the_event_stored()
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var first = ProcessorHarness.Event(1);
        var second = ProcessorHarness.Event(2);
        var answers = new Answers { [first.EventId] = Answer.ServerError, [second.EventId] = Answer.Reset };
        answers.Times[first.EventId] = 2;
        answers.Times[second.EventId] = 2;
        using var dynamoDb = Client(harness, answers);

        var failures = await ProcessorHarness.InvokeAsync(harness.Function(dynamoDb),
            [FromQueue(harness, ProcessorHarness.Message(first)), FromQueue(harness, ProcessorHarness.Message(second))], TimeSpan.FromSeconds(10));

        Assert.Empty(failures);
        Assert.Equal(new[] { first.EventId, second.EventId }.Order(), (await harness.ItemsAsync()).Select(i => i["eventId"].S).Order());
        Assert.Empty(await ReceiveAllAsync(harness)); // nothing throttled: nothing requeued
    }

    // As Lambda delivers it: the record names its queue by ARN (what CapacityRequeue sends back to).
    private static SqsMessage FromQueue(ProcessorHarness harness, SqsMessage message, string queue = "EventsQueue") =>
        message with { EventSourceArn = $"arn:aws:sqs:us-east-1:000000000000:{harness.Stack.Resources[queue].Ref.TrimEnd('/').Split('/')[^1]}" };

    private static async Task<List<Message>> ReceiveAllAsync(ProcessorHarness harness, string queue = "EventsQueue")
    {
        var messages = new List<Message>();
        for (var i = 0; i < 3; i++)
        {
            var received = await harness.Aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest(harness.Stack.Resources[queue].Ref)
            {
                MaxNumberOfMessages = 10,
                WaitTimeSeconds = 1,
                MessageAttributeNames = ["All"],
            });
            messages.AddRange(received.Messages ?? []);
        }
        return messages;
    }

    private static AmazonDynamoDBClient Client(ProcessorHarness harness, Answers answers)
    {
        var config = ProcessorFunction.DynamoDbConfig();
        config.ServiceURL = harness.Aws.Endpoints.DynamoDb.ToString();
        config.AuthenticationRegion = harness.Aws.Endpoints.Region;
        config.HttpClientFactory = answers;
        return new AmazonDynamoDBClient(LocalAws.Credentials, config);
    }

    private enum Answer
    {
        Throttle,
        ServerError,
        Reset,
    }

    // DynamoDB Local, except for the writes of chosen events: each answered as chosen, always or a number of times.
    private sealed class Answers : HttpClientFactory, IEnumerable<KeyValuePair<string, Answer>>
    {
        private readonly ConcurrentDictionary<string, Answer> _answers = new();

        public ConcurrentDictionary<string, int> Times { get; } = new();

        public Answer this[string eventId]
        {
            set => _answers[eventId] = value;
        }

        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new Handler(this));

        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

        public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

        public IEnumerator<KeyValuePair<string, Answer>> GetEnumerator() => _answers.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        private Answer? Take(string body)
        {
            foreach (var (id, answer) in _answers)
            {
                if (!body.Contains(id, StringComparison.Ordinal))
                {
                    continue;
                }
                if (!Times.TryGetValue(id, out var left))
                {
                    return answer;
                }
                if (left > 0)
                {
                    Times[id] = left - 1;
                    return answer;
                }
            }
            return null;
        }

        private sealed class Handler(Answers answers) : DelegatingHandler(new SocketsHttpHandler())
        {
            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                var bytes = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
                var answer = request.Headers.TryGetValues("X-Amz-Target", out var targets) && targets.Single().EndsWith(".PutItem", StringComparison.Ordinal)
                    ? answers.Take(Encoding.UTF8.GetString(bytes))
                    : null;
                switch (answer)
                {
                    case Answer.Throttle:
                        return Json(HttpStatusCode.BadRequest, CapacityProxy.ThrottledBody);
                    case Answer.ServerError:
                        return Json(HttpStatusCode.InternalServerError,
                            "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\",\"message\":\"Internal server error (the test's).\"}");
                    case Answer.Reset:
                        throw new HttpRequestException("The test reset the connection.", new IOException("Connection reset by peer"));
                    default:
                        break;
                }
                if (request.Content is { } content)
                {
                    var copy = new ByteArrayContent(bytes);
                    foreach (var (name, values) in content.Headers)
                    {
                        copy.Headers.TryAddWithoutValidation(name, values);
                    }
                    request.Content = copy;
                }
                return await base.SendAsync(request, cancellationToken);
            }

            private static HttpResponseMessage Json(HttpStatusCode status, string body) => new(status)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/x-amz-json-1.0"),
            };
        }
    }
}
