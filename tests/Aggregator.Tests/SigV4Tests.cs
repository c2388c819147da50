using System.Security.Cryptography;
using System.Text;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using Pipeline.Local;
using Pipeline.Sns;

namespace Pipeline.Aggregator.Tests;

/// <summary>
/// The SNS client signs with AWSSDK.Core's Signature Version 4 signer (<c>SigV4SigningHandler</c>), proven here
/// against AWS's published test vectors (tests/testdata/sigv4). The SDK's signer always adds and signs an
/// <c>x-amz-content-sha256</c> header, which the vectors predate; so each vector is checked in two steps:
/// (1) the HMAC chain below reproduces the vector's published signature from its published string to sign, and
/// (2) the SDK's signature equals that chain applied to the vector's published canonical request with the SDK's
/// one extra header added. A difference in canonicalization, key derivation or string to sign fails either step.
/// </summary>
public sealed class SigV4Tests
{
    private const string Secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    private static readonly DateTime SignedAt = new(2015, 8, 30, 12, 36, 0, DateTimeKind.Utc);
    private static readonly string Suite = Path.Combine(RepositoryPaths.Discover().Root, "tests", "testdata", "sigv4", "aws-sig-v4-test-suite");

    // Vectors whose request a .NET HTTP client cannot send as written, so they say nothing about the requests SNS receives.
    private static readonly Dictionary<string, string> NotSendable = new()
    {
        ["get-header-key-duplicate"] = "repeats a header name; HttpClient and the signer keep one value per name",
        ["get-header-value-multiline"] = "folds a header over lines, which HTTP/1.1 forbids (RFC 7230 3.2.4)",
        ["get-header-value-order"] = "repeats a header name",
        ["post-sts-header-after"] = "adds the session token after signing; the SDK (rightly) signs it, as in post-sts-header-before",
    };

    // Paths the SDK canonicalizes as AWS services other than S3 do (double URI-encoding, no collapsing of "//"),
    // where these generic vectors encode once. The SNS Query API always posts to "/", as every other vector does.
    private static readonly HashSet<string> PathEncoding = ["get-slash", "get-slashes", "get-space", "get-utf8"];

    public static TheoryData<string> SdkVectors()
    {
        var data = new TheoryData<string>();
        foreach (var vector in VectorPaths().Where(v => !PathEncoding.Contains(Path.GetFileNameWithoutExtension(v))))
        {
            data.Add(vector);
        }
        return data;
    }

    public static TheoryData<string> Vectors()
    {
        var data = new TheoryData<string>();
        foreach (var vector in VectorPaths())
        {
            data.Add(vector);
        }
        return data;
    }

    private static IEnumerable<string> VectorPaths() =>
        Directory.GetFiles(Suite, "*.req", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Where(r => !NotSendable.ContainsKey(Path.GetFileNameWithoutExtension(r)))
            .Select(r => Path.GetRelativePath(Suite, r));

    [Fact]
    public void The_suite_is_there()
    {
        Assert.True(VectorPaths().Count() >= 25, $"expected the SigV4 test suite in {Suite}");
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void The_published_signature_comes_from_the_published_string_to_sign(string vector)
    {
        var path = Path.Combine(Suite, vector);
        var stringToSign = File.ReadAllText(Path.ChangeExtension(path, ".sts"));

        Assert.Equal(Signature(File.ReadAllText(Path.ChangeExtension(path, ".authz"))), Sign(stringToSign));
    }

    [Theory]
    [MemberData(nameof(SdkVectors))]
    public void The_sdk_signer_signs_the_published_canonical_request(string vector)
    {
        var path = Path.Combine(Suite, vector);
        var (method, target, headers, body) = Parse(File.ReadAllText(path));
        var token = headers.Remove("X-Amz-Security-Token", out var t) ? t : null;
        headers.Remove("X-Amz-Date");
        var request = new AWSSigningRequest
        {
            HttpMethod = new HttpMethod(method),
            RequestUri = new Uri($"https://{headers["Host"]}{target}"),
            Content = Encoding.UTF8.GetBytes(body),
        };
        foreach (var (header, value) in headers)
        {
            request.Headers[header] = value;
        }

        var signed = AWSSigV4Signer.Sign(request, new AWSSigV4Parameters
        {
            Credentials = token is null ? new BasicAWSCredentials("AKIDEXAMPLE", Secret) : new SessionAWSCredentials("AKIDEXAMPLE", Secret, token),
            Region = RegionEndpoint.USEast1,
            Service = "service",
            SignedAt = SignedAt,
            SignPayload = true,
        });

        var canonical = WithHeader(File.ReadAllText(Path.ChangeExtension(path, ".creq")), "x-amz-content-sha256", signed.Headers["X-Amz-Content-SHA256"]);
        Assert.Equal(Sign(StringToSign(canonical)), Signature(signed.Headers["Authorization"]));
    }

    // Adds a header to a canonical request: in name order among the canonical headers and in the signed headers list.
    private static string WithHeader(string canonicalRequest, string name, string value)
    {
        var lines = canonicalRequest.Split('\n').ToList();
        var blank = lines.IndexOf("", 3);
        var headerLines = lines[3..blank].Append($"{name}:{value}").OrderBy(l => l[..l.IndexOf(':', StringComparison.Ordinal)], StringComparer.Ordinal);
        var signedHeaders = lines[blank + 1].Split(';').Append(name).Order(StringComparer.Ordinal);
        return string.Join('\n', lines[..3].Concat(headerLines).Append("").Append(string.Join(';', signedHeaders)).Concat(lines[(blank + 2)..]));
    }

    private static string StringToSign(string canonicalRequest) => string.Join('\n',
        "AWS4-HMAC-SHA256", "20150830T123600Z", "20150830/us-east-1/service/aws4_request",
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest))));

    // The SigV4 key derivation and signature (AWS General Reference, "Create a signed AWS API request").
    [Fact]
    public async Task The_sns_client_signs_for_sns_with_the_body_hash_and_its_signature_is_the_chain_over_its_own_canonical_request()
    {
        var recorder = new Recorder();
        var sns = SnsClient.Create(new BasicAWSCredentials("AKIDEXAMPLE", Secret), RegionEndpoint.EUWest1, new Uri("http://127.0.0.1:9/"), recorder);

        await Assert.ThrowsAsync<HttpRequestException>(() =>
            sns.PublishAsync("arn:aws:sns:eu-west-1:123456789012:t", "hello", "s", new Dictionary<string, string>(), CancellationToken.None));

        var (request, body) = recorder.Requests[0];
        var authorization = request.Headers.GetValues("Authorization").Single();
        var date = request.Headers.GetValues("X-Amz-Date").Single();
        Assert.Contains($"Credential=AKIDEXAMPLE/{date[..8]}/eu-west-1/sns/aws4_request", authorization, StringComparison.Ordinal);
        var bodyHash = Convert.ToHexStringLower(SHA256.HashData(body));
        Assert.Equal(bodyHash, request.Headers.GetValues("X-Amz-Content-SHA256").Single()); // the payload is signed, not UNSIGNED-PAYLOAD
        var signedHeaders = authorization[(authorization.IndexOf("SignedHeaders=", StringComparison.Ordinal) + 14)..].Split(',')[0];
        string HeaderValue(string name) => name == "host" ? request.RequestUri!.Authority
            : request.Headers.TryGetValues(name, out var v) ? string.Join(',', v)
            : string.Join(',', request.Content!.Headers.GetValues(name));
        var canonical = string.Join('\n', "POST", "/", "", string.Join('\n', signedHeaders.Split(';').Select(h => $"{h}:{HeaderValue(h).Trim()}")), "", signedHeaders, bodyHash);
        var canonicalHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
        var stringToSign = string.Join('\n', "AWS4-HMAC-SHA256", date, $"{date[..8]}/eu-west-1/sns/aws4_request", canonicalHash);
        Assert.Equal(Sign(stringToSign, date[..8], "eu-west-1", "sns"), Signature(authorization));
    }

    private sealed class Recorder : HttpMessageHandler
    {
        public List<(HttpRequestMessage Request, byte[] Body)> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add((request, await request.Content!.ReadAsByteArrayAsync(cancellationToken)));
            throw new HttpRequestException("recorded, not sent");
        }
    }

    private static string Sign(string stringToSign, string date = "20150830", string region = "us-east-1", string service = "service")
    {
        var key = Encoding.UTF8.GetBytes("AWS4" + Secret);
        foreach (var part in new[] { date, region, service, "aws4_request" })
        {
            key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(part));
        }
        return Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));
    }

    private static string Signature(string authorization) => authorization.Trim()[(authorization.Trim().LastIndexOf("Signature=", StringComparison.Ordinal) + 10)..];

    private static (string Method, string Target, Dictionary<string, string> Headers, string Body) Parse(string text)
    {
        var parts = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", 2);
        var lines = parts[0].Split('\n');
        var requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon]] = line[(colon + 1)..];
        }
        return (requestLine[0], string.Join(' ', requestLine[1..^1]), headers, parts.Length > 1 ? parts[1] : "");
    }
}
