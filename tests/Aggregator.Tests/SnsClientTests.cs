using System.Net;
using Pipeline.Sns;
using Pipeline.Tests;

namespace Pipeline.Aggregator.Tests;

public sealed class SnsClientTests
{
    [Fact]
    public async Task An_sns_error_becomes_an_exception_carrying_its_code()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();

        var error = await Assert.ThrowsAsync<SnsException>(() => aws.Sns.PublishAsync(
            "arn:aws:sns:us-east-1:000000000000:no-such-topic", "m", "s", new Dictionary<string, string>(), CancellationToken.None));

        Assert.Equal("NotFound", error.Code);
        Assert.False(Pipeline.Faults.AwsFaults.IsTransient(error));
    }

    [Fact]
    public async Task Throttling_and_server_errors_are_retried_and_client_errors_are_not()
    {
        // Scripted answers stand in for SNS here: what is tested is the client's own retry logic.
        var answers = new Queue<(HttpStatusCode, string)>(
        [
            (HttpStatusCode.BadRequest, Error("Throttling")),
            (HttpStatusCode.InternalServerError, Error("InternalError")),
            (HttpStatusCode.OK, """
                <PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
                  <PublishResult><MessageId>m-1</MessageId></PublishResult>
                </PublishResponse>
                """),
            (HttpStatusCode.BadRequest, Error("InvalidParameter")),
        ]);
        var handler = new Scripted(answers);
        var client = new SnsClient(new HttpClient(handler), new Uri("http://sns.test/"));

        var id = await client.PublishAsync("arn:aws:sns:us-east-1:1:t", "m", "s", new Dictionary<string, string>(), CancellationToken.None);
        var invalid = await Assert.ThrowsAsync<SnsException>(() =>
            client.PublishAsync("arn:aws:sns:us-east-1:1:t", "m", "s", new Dictionary<string, string>(), CancellationToken.None));

        Assert.Equal("m-1", id);
        Assert.Equal(4, handler.Requests); // three for the first publish (two retried), one for the refused one
        Assert.Equal("InvalidParameter", invalid.Code);
        Assert.Empty(answers);
    }

    private static string Error(string code) =>
        $"""<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>{code}</Code><Message>m</Message></Error></ErrorResponse>""";

    private sealed class Scripted(Queue<(HttpStatusCode Status, string Body)> answers) : HttpMessageHandler
    {
        public int Requests { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            var (status, body) = answers.Dequeue();
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body) });
        }
    }
}
