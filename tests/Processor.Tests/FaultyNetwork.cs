using Amazon.Runtime;

namespace Pipeline.Processor.Tests;

/// <summary>
/// An HTTP client factory for SDK clients whose connection works for the first <c>healthyRequests</c>
/// requests and then fails as a refused connection would: the real server, cut off mid-batch.
/// </summary>
public sealed class FaultyNetwork(int healthyRequests) : HttpClientFactory
{
    private int _sent;

    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new CutOffHandler(this));

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    private bool NextIsHealthy() => Interlocked.Increment(ref _sent) <= healthyRequests;

    private sealed class CutOffHandler(FaultyNetwork network) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            network.NextIsHealthy()
                ? base.SendAsync(request, cancellationToken)
                : throw new HttpRequestException("Connection refused (the test cut the network).");
    }
}
