using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Web;
using Amazon.Runtime;

namespace Pipeline.Deployment.Tests;

/// <summary>An AWS call as IAM sees it: the action and the resource (by physical name, with a qualifier).</summary>
public sealed record AwsCall(string Action, string Resource, string Qualifier);

/// <summary>
/// Records every AWS call that SDK clients (through <see cref="HttpClientFactory"/>) or the SNS client (through
/// <see cref="Handler"/>) send to the real emulators, as IAM actions on resources: the calls the code really makes.
/// </summary>
public sealed class RecordingNetwork : HttpClientFactory
{
    public ConcurrentBag<AwsCall> Calls { get; } = [];

    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(Handler());

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    public DelegatingHandler Handler() => new Recorder(this, new SocketsHttpHandler());

    private sealed class Recorder(RecordingNetwork network, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            network.Calls.Add(Describe(request, body));
            return await base.SendAsync(request, cancellationToken);
        }
    }

    private static AwsCall Describe(HttpRequestMessage request, string body)
    {
        if (request.Headers.TryGetValues("X-Amz-Target", out var targets))
        {
            var target = targets.Single();
            var json = JsonNode.Parse(body)!;
            if (target.StartsWith("DynamoDB_", StringComparison.Ordinal))
            {
                var index = json["IndexName"]?.GetValue<string>();
                return new("dynamodb:" + target.Split('.')[1], json["TableName"]!.GetValue<string>(), index is null ? "" : $"/index/{index}");
            }
            // IAM authorizes the SQS batch actions with the single ones (SendMessageBatch with sqs:SendMessage...).
            var action = target.Split('.')[1].Replace("Batch", "", StringComparison.Ordinal);
            return new("sqs:" + action, json["QueueUrl"]!.GetValue<string>().Split('/')[^1], "");
        }
        if (request.Content?.Headers.ContentType?.MediaType == "application/x-www-form-urlencoded")
        {
            var form = HttpUtility.ParseQueryString(body);
            return new("sns:" + form["Action"], form["TopicArn"] ?? "", "");
        }
        // S3, path-style: /bucket or /bucket/key.
        var path = request.RequestUri!.AbsolutePath.Trim('/').Split('/', 2);
        if (request.Method == HttpMethod.Post && path.Length == 1 && request.RequestUri.Query.Contains("delete", StringComparison.Ordinal))
        {
            // DeleteObjects: IAM authorizes it with s3:DeleteObject on each key; the keys of one call share a prefix here.
            var key = System.Xml.Linq.XDocument.Parse(body).Descendants().First(e => e.Name.LocalName == "Key").Value;
            return new("s3:DeleteObject", path[0], $"/{key.Split('/')[0]}/*");
        }
        var s3Action = (request.Method.Method, path.Length) switch
        {
            ("PUT", 2) => "s3:PutObject",
            ("GET", 2) => "s3:GetObject",
            ("GET", 1) => "s3:ListBucket",
            ("DELETE", 2) => "s3:DeleteObject",
            _ => $"s3:{request.Method.Method} {request.RequestUri.PathAndQuery}",
        };
        // An object's qualifier is its top-level prefix (/events/*, /rejected/*), as the policies grant them.
        return new(s3Action, path[0], path.Length == 2 ? $"/{path[1].Split('/')[0]}/*" : "");
    }
}
