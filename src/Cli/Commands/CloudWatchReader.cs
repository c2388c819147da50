using System.Globalization;
using System.Xml.Linq;
using Amazon.Runtime.Signing;

namespace Pipeline.Cli.Commands;

/// <summary>
/// What <c>status</c> reads of a deployed stack from CloudWatch's Query API (<c>DescribeAlarms</c>,
/// <c>GetMetricStatistics</c>), signed with AWSSDK.Core's Signature Version 4 signer. Hand-written because no CloudWatch
/// package is obtainable here (docs/architecture.md, D5 has the same reason for SNS).
/// </summary>
public sealed class CloudWatchReader(HttpClient http, Uri endpoint)
{
    private static readonly XNamespace Ns = "http://monitoring.amazonaws.com/doc/2010-08-01/";

    /// <summary>A reader for <paramref name="region"/>, signing with <paramref name="credentials"/>.</summary>
    public static CloudWatchReader Create(Amazon.Runtime.AWSCredentials credentials, Amazon.RegionEndpoint region, Uri? endpoint = null)
    {
        ArgumentNullException.ThrowIfNull(region);
        var signing = new AWSSigV4Parameters { Credentials = credentials, Region = region, Service = "monitoring", SignPayload = true };
        var signer = new SigV4SigningHandler(signing, new SocketsHttpHandler());
        return new CloudWatchReader(new HttpClient(signer) { Timeout = TimeSpan.FromSeconds(20) },
            endpoint ?? new Uri($"https://monitoring.{region.SystemName}.{region.PartitionDnsSuffix}/"));
    }

    /// <summary>The alarms in ALARM whose names start with <paramref name="prefix"/>: name and reason.</summary>
    public async Task<IReadOnlyList<(string Name, string Reason)>> AlarmsInAlarmAsync(string prefix, CancellationToken cancellationToken)
    {
        var result = await SendAsync("DescribeAlarms", [new("StateValue", "ALARM"), new("AlarmNamePrefix", prefix)], cancellationToken);
        return [.. result.Descendants(Ns + "MetricAlarms").Elements(Ns + "member")
            .Select(a => ((string?)a.Element(Ns + "AlarmName") ?? "", (string?)a.Element(Ns + "StateReason") ?? ""))];
    }

    /// <summary>The latest one-minute maximum of an SQS queue metric in the last 15 minutes, or null if there is none.</summary>
    public async Task<double?> LatestQueueMaximumAsync(string queueName, string metric, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var result = await SendAsync("GetMetricStatistics",
        [
            new("Namespace", "AWS/SQS"), new("MetricName", metric),
            new("Dimensions.member.1.Name", "QueueName"), new("Dimensions.member.1.Value", queueName),
            new("StartTime", now.AddMinutes(-15).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)),
            new("EndTime", now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)),
            new("Period", "60"), new("Statistics.member.1", "Maximum"),
        ], cancellationToken);
        return result.Descendants(Ns + "Datapoints").Elements(Ns + "member")
            .Select(p => (At: (DateTime?)p.Element(Ns + "Timestamp"), Value: (double?)p.Element(Ns + "Maximum")))
            .OrderByDescending(p => p.At).Select(p => p.Value).FirstOrDefault();
    }

    private async Task<XElement> SendAsync(string action, List<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        parameters.InsertRange(0, [new("Action", action), new("Version", "2010-08-01")]);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new FormUrlEncodedContent(parameters) };
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var error = XDocument.Parse(body).Descendants().FirstOrDefault(e => e.Name.LocalName == "Message")?.Value ?? body;
            throw new HttpRequestException($"CloudWatch {action}: {(int)response.StatusCode} {error}", null, response.StatusCode);
        }
        return XDocument.Parse(body).Root ?? new XElement("empty");
    }
}
