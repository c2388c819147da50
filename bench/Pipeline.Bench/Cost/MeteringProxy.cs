using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using System.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Pipeline.Bench.Cost;

/// <summary>One AWS request as AWS bills it: the service, the operation, and its billed units.</summary>
/// <param name="Service">dynamodb, sqs, s3 or sns.</param>
/// <param name="Operation">The API operation (PutItem, SendMessageBatch, PutObject...).</param>
/// <param name="Requests">Billed requests: 1, or for SQS one per 64 KB of payload.</param>
/// <param name="WriteUnits">DynamoDB write request units (the table's and its indexes').</param>
/// <param name="ReadUnits">DynamoDB read request units.</param>
/// <param name="Table">The DynamoDB table it named, if any.</param>
/// <param name="ConditionFailed">A DynamoDB write whose condition failed (a duplicate): billed as a write all the same.</param>
internal sealed record MeteredCall(string Service, string Operation, double Requests, double WriteUnits, double ReadUnits, string Table = "", bool ConditionFailed = false);

/// <summary>
/// An HTTP proxy in front of an emulator that records every request that passes while <see cref="Recording"/> is on,
/// as AWS would bill it. Every client of the pipeline (the Api, the function processes, the event source) reaches the
/// emulators through it, so it sees every request the pipeline makes, as the SDKs and our SNS client send them.
/// Written by hand: no reverse-proxy package is available here, and forwarding bytes unchanged is all it needs.
/// </summary>
internal sealed class MeteringProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _client;
    private readonly Func<string, int> _indexWrites;

    private MeteringProxy(WebApplication app, HttpClient client, Func<string, int> indexWrites)
    {
        _app = app;
        _client = client;
        _indexWrites = indexWrites;
    }

    /// <summary>The proxy's address, for the clients' endpoints.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Whether requests are recorded now.</summary>
    public bool Recording { get; set; }

    /// <summary>The recorded requests.</summary>
    public ConcurrentQueue<MeteredCall> Calls { get; } = new();

    /// <summary>Starts a proxy to <paramref name="target"/>; <paramref name="indexWrites"/> says how many index writes an item of a table adds.</summary>
    public static async Task<MeteringProxy> StartAsync(Uri target, Func<string, int> indexWrites)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        var client = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, UseCookies = false })
        {
            BaseAddress = target,
            Timeout = TimeSpan.FromMinutes(2),
        };
        var proxy = new MeteringProxy(app, client, indexWrites);
        app.Run(proxy.ForwardAsync);
        await app.StartAsync();
        proxy.Address = new Uri(app.Urls.First() + "/");
        return proxy;
    }

    private async Task ForwardAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), context.Request.Path + context.Request.QueryString)
        {
            Content = new ByteArrayContent(bytes),
        };
        foreach (var (name, values) in context.Request.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                request.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, context.RequestAborted);
        var answer = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
        if (Recording)
        {
            Calls.Enqueue(Meter(context.Request, bytes, answer) is var call && call.Service == "dynamodb"
                ? call with { ConditionFailed = (int)response.StatusCode == 400 && IsConditionFailure(answer) }
                : call);
        }
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }
        await context.Response.Body.WriteAsync(answer, context.RequestAborted);
    }

    private MeteredCall Meter(HttpRequest request, byte[] body, byte[] answer)
    {
        var target = request.Headers["X-Amz-Target"].ToString();
        if (target.StartsWith("DynamoDB_", StringComparison.Ordinal))
        {
            var operation = target.Split('.')[1];
            var json = JsonNode.Parse(body)!;
            var table = json["TableName"]?.GetValue<string>() ?? "";
            MeteredCall call = operation switch
            {
                // A write costs 1 WRU per KB of the item, for the table and again for each index that holds it; a failed
                // condition costs the same as a write.
                "PutItem" => new("dynamodb", operation, 1, WriteUnits(json["Item"]!.AsObject()) * (1 + _indexWrites(table)), 0),
                "UpdateItem" or "DeleteItem" => new("dynamodb", operation, 1, Math.Max(1, Math.Ceiling(body.Length / 1024.0)), 0),
                "BatchWriteItem" => new("dynamodb", operation, 1, BatchWriteUnits(json), 0),
                "GetItem" or "Query" or "Scan" => new("dynamodb", operation, 1, 0, ReadUnits(answer, json["ConsistentRead"]?.GetValue<bool>() == true)),
                _ => new("dynamodb", operation, 1, 0, 0),
            };
            return call with { Table = table };
        }
        if (target.StartsWith("AmazonSQS.", StringComparison.Ordinal))
        {
            // SQS bills each 64 KB chunk of a request's payload as one request.
            return new("sqs", target.Split('.')[1], Math.Max(1, Math.Ceiling(body.Length / 65536.0)), 0, 0);
        }
        if (request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.Ordinal) == true)
        {
            var form = HttpUtility.ParseQueryString(System.Text.Encoding.UTF8.GetString(body));
            return new(form["Action"] == "Publish" ? "sns" : "sqs", form["Action"] ?? "?", 1, 0, 0);
        }
        var path = request.Path.Value!.Trim('/').Split('/', 2);
        var operationName = (request.Method, path.Length) switch
        {
            ("PUT", 2) => "PutObject",
            ("GET", 2) => "GetObject",
            ("HEAD", 2) => "HeadObject",
            ("DELETE", 2) => "DeleteObject",
            ("GET", 1) => "ListObjectsV2",
            _ => $"{request.Method} bucket",
        };
        return new("s3", operationName, 1, 0, 0);
    }

    private static bool IsConditionFailure(byte[] answer) =>
        JsonNode.Parse(answer)?["__type"]?.GetValue<string>().EndsWith("#ConditionalCheckFailedException", StringComparison.Ordinal) == true;

    private static double WriteUnits(JsonObject item) => Math.Max(1, Math.Ceiling(DynamoDbItemSize.Of(item) / 1024.0));

    private double BatchWriteUnits(JsonNode json)
    {
        var units = 0.0;
        foreach (var (table, requests) in json["RequestItems"]!.AsObject())
        {
            foreach (var put in requests!.AsArray().Select(r => r!["PutRequest"]?["Item"]).OfType<JsonObject>())
            {
                units += WriteUnits(put) * (1 + _indexWrites(table));
            }
        }
        return units;
    }

    // Reads cost 1 RRU per 4 KB read (the total of the items a Query or Scan returns), half that when eventually consistent.
    private static double ReadUnits(byte[] answer, bool consistent)
    {
        var json = JsonNode.Parse(answer);
        var items = json?["Items"]?.AsArray().OfType<JsonObject>() ?? (json?["Item"] is JsonObject one ? [one] : []);
        var size = items.Sum(DynamoDbItemSize.Of);
        return Math.Max(1, Math.Ceiling(size / 4096.0)) * (consistent ? 1 : 0.5);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _client.Dispose();
    }
}
