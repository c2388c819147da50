using System.Net;
using System.Xml.Linq;

namespace Pipeline.Sns;

/// <summary>
/// A small client of SNS's Query API (form-encoded POST, XML answers).
/// Hand-written because AWSSDK.SimpleNotificationService is not obtainable from this
/// environment's NuGet mirror (docs/architecture.md, D5). Requests are signed with Signature
/// Version 4 by AWSSDK.Core's own <c>SigV4SigningHandler</c>; see <see cref="Create"/>.
/// </summary>
public sealed class SnsClient(HttpClient http, Uri endpoint)
{
    private static readonly XNamespace Ns = "http://sns.amazonaws.com/doc/2010-03-31/";
    private const int MaxAttempts = 4;

    /// <summary>Creates a client whose requests are signed with <paramref name="credentials"/> for <paramref name="region"/>.</summary>
    /// <param name="credentials">Credentials, normally from the SDK's default chain.</param>
    /// <param name="region">The region of the topic.</param>
    /// <param name="serviceUrl">An endpoint override (a local emulator), or null for AWS's regional endpoint.</param>
    /// <param name="network">The handler that sends the signed requests (a test's recorder); by default a new socket handler.</param>
    public static SnsClient Create(Amazon.Runtime.AWSCredentials credentials, Amazon.RegionEndpoint region, Uri? serviceUrl = null, HttpMessageHandler? network = null)
    {
        ArgumentNullException.ThrowIfNull(region);
        var handler = new Amazon.Runtime.Signing.SigV4SigningHandler(SigningParameters(credentials, region), network ?? new SocketsHttpHandler());
        var endpoint = serviceUrl ?? new Uri($"https://sns.{region.SystemName}.{region.PartitionDnsSuffix}/");
        return new SnsClient(new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) }, endpoint);
    }

    /// <summary>
    /// A client as a function makes it: credentials and region from the SDK's default chain, and the SDK's endpoint override
    /// (<see cref="EndpointOverride"/>), so the same program runs on Lambda and locally.
    /// </summary>
    public static SnsClient FromDefaultChain() =>
        Create(Amazon.Runtime.Credentials.DefaultAWSCredentialsIdentityResolver.GetCredentials(), DefaultRegion(), EndpointOverride());

    /// <summary>The region from the SDK's default chain; a function checks it at start, so a missing one is an init error naming it.</summary>
    public static Amazon.RegionEndpoint DefaultRegion() =>
        Amazon.Runtime.FallbackRegionFactory.GetRegionEndpoint() ?? throw new InvalidOperationException("The environment variable AWS_REGION is required.");

    /// <summary>How requests to SNS are signed: service <c>sns</c>, with the body's hash signed (SNS checks it; "UNSIGNED-PAYLOAD" is for S3 only).</summary>
    public static Amazon.Runtime.Signing.AWSSigV4Parameters SigningParameters(Amazon.Runtime.AWSCredentials credentials, Amazon.RegionEndpoint region) =>
        new() { Credentials = credentials, Region = region, Service = "sns", SignPayload = true };

    /// <summary>
    /// The endpoint override the AWS SDKs read for SNS (<c>AWS_ENDPOINT_URL_SNS</c>, else <c>AWS_ENDPOINT_URL</c>), or null:
    /// the same convention as the SDK clients, so a local run points every client the same way.
    /// </summary>
    public static Uri? EndpointOverride(Func<string, string?>? read = null)
    {
        read ??= System.Environment.GetEnvironmentVariable;
        return (read("AWS_ENDPOINT_URL_SNS") ?? read("AWS_ENDPOINT_URL")) is { Length: > 0 } url ? new Uri(url) : null;
    }

    /// <summary>Publishes a message; returns its SNS message id.</summary>
    public async Task<string> PublishAsync(string topicArn, string message, string subject,
        IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("TopicArn", topicArn),
            new("Message", message),
            new("Subject", subject),
        };
        var i = 1;
        foreach (var (name, value) in attributes)
        {
            form.Add(new($"MessageAttributes.entry.{i}.Name", name));
            form.Add(new($"MessageAttributes.entry.{i}.Value.DataType", "String"));
            form.Add(new($"MessageAttributes.entry.{i}.Value.StringValue", value));
            i++;
        }
        var result = await SendAsync("Publish", form, cancellationToken).ConfigureAwait(false);
        return Value(result, "MessageId");
    }

    /// <summary>Creates a topic (idempotent); returns its ARN.</summary>
    public async Task<string> CreateTopicAsync(string name, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>> { new("Name", name) };
        AddAttributes(form, attributes);
        return Value(await SendAsync("CreateTopic", form, cancellationToken).ConfigureAwait(false), "TopicArn");
    }

    // A topic's or a subscription's attributes, as the Query API's form takes them: Attributes.entry.N.key and .value.
    private static void AddAttributes(List<KeyValuePair<string, string>> form, IReadOnlyDictionary<string, string> attributes)
    {
        var i = 1;
        foreach (var (key, value) in attributes)
        {
            form.Add(new($"Attributes.entry.{i}.key", key));
            form.Add(new($"Attributes.entry.{i}.value", value));
            i++;
        }
    }

    /// <summary>Reads a topic's attributes.</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetTopicAttributesAsync(string topicArn, CancellationToken cancellationToken)
    {
        var result = await SendAsync("GetTopicAttributes", [new("TopicArn", topicArn)], cancellationToken).ConfigureAwait(false);
        return result.Descendants(Ns + "entry").ToDictionary(e => (string)e.Element(Ns + "key")!, e => (string?)e.Element(Ns + "value") ?? "");
    }

    /// <summary>Subscribes an endpoint to a topic (idempotent for the same endpoint); returns the subscription ARN.</summary>
    public async Task<string> SubscribeAsync(string topicArn, string protocol, string endpoint,
        IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>> { new("TopicArn", topicArn), new("Protocol", protocol), new("Endpoint", endpoint) };
        AddAttributes(form, attributes);
        return Value(await SendAsync("Subscribe", form, cancellationToken).ConfigureAwait(false), "SubscriptionArn");
    }

    /// <summary>Lists a topic's subscriptions (first page: enough for the pipeline's topics).</summary>
    public async Task<IReadOnlyList<SnsSubscription>> ListSubscriptionsByTopicAsync(string topicArn, CancellationToken cancellationToken)
    {
        var result = await SendAsync("ListSubscriptionsByTopic", [new("TopicArn", topicArn)], cancellationToken).ConfigureAwait(false);
        return [.. result.Descendants(Ns + "member").Select(m => new SnsSubscription(
            (string?)m.Element(Ns + "SubscriptionArn") ?? "",
            (string?)m.Element(Ns + "Protocol") ?? "",
            (string?)m.Element(Ns + "Endpoint") ?? ""))];
    }

    private async Task<XElement> SendAsync(string action, IEnumerable<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var form = parameters.Prepend(new("Version", "2010-03-31")).Prepend(new("Action", action)).ToList();
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new FormUrlEncodedContent(form) };
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException) when (attempt < MaxAttempts)
            {
                await Backoff(attempt, cancellationToken).ConfigureAwait(false);
                continue;
            }
            using (response)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return XDocument.Parse(body).Root?.Element(Ns + $"{action}Result") ?? new XElement("empty");
                }
                var error = SnsException.FromResponse(response.StatusCode, body);
                if (Faults.AwsFaults.IsTransient(error.Status, error.Code) && attempt < MaxAttempts)
                {
                    await Backoff(attempt, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                throw error;
            }
        }
    }

    private static Task Backoff(int attempt, CancellationToken cancellationToken) =>
        Task.Delay(TimeSpan.FromMilliseconds(100 * Math.Pow(2, attempt) + Random.Shared.Next(50)), cancellationToken);

    private static string Value(XElement result, string name) =>
        (string?)result.Element(Ns + name) ?? throw new SnsException("MalformedResponse", $"The SNS answer has no {name}.", HttpStatusCode.OK);
}

/// <summary>One subscription of a topic.</summary>
public sealed record SnsSubscription(string SubscriptionArn, string Protocol, string Endpoint);

/// <summary>An error answer from SNS, carrying its error code.</summary>
public sealed class SnsException(string code, string message, HttpStatusCode status) : Exception($"SNS {code}: {message}")
{
    /// <summary>The SNS error code, e.g. <c>NotFound</c> or <c>Throttling</c>.</summary>
    public string Code { get; } = code;

    /// <summary>The HTTP status of the answer.</summary>
    public HttpStatusCode Status { get; } = status;

    internal static SnsException FromResponse(HttpStatusCode status, string body)
    {
        try
        {
            var error = XDocument.Parse(body).Descendants().FirstOrDefault(e => e.Name.LocalName == "Error");
            var code = error?.Elements().FirstOrDefault(e => e.Name.LocalName == "Code")?.Value ?? status.ToString();
            var message = error?.Elements().FirstOrDefault(e => e.Name.LocalName == "Message")?.Value ?? "";
            return new SnsException(code, message, status);
        }
        catch (System.Xml.XmlException)
        {
            return new SnsException(status.ToString(), "The answer was not XML.", status);
        }
    }
}
