using System.Net;
using System.Net.Sockets;

namespace Pipeline.Tests;

/// <summary>
/// A loopback TCP proxy in front of a real server, for faults a test or the fault soak injects on the wire: each request chunk can be
/// held for <see cref="Delay"/> (a slow network), and <see cref="Cut"/> drops every connection and refuses new ones
/// until <see cref="Restore"/> (a server that went away).
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Uri _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = [];
    private volatile bool _cut;

    /// <summary>Starts a proxy to <paramref name="target"/> on a free loopback port.</summary>
    public TcpProxy(Uri target)
    {
        _target = target;
        _listener.Start();
        _ = AcceptAsync();
    }

    /// <summary>The proxy's address, to use instead of the target's.</summary>
    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    /// <summary>How long each chunk sent to the server is held.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>
    /// Which requests hang: a chunk sent to the server for which this is true is never sent on, and its connection stays
    /// open and silent (a server that accepts and never answers, for the requests it names).
    /// </summary>
    public Func<ReadOnlyMemory<byte>, bool>? Hang { get; set; }

    /// <summary>Whether what clients send is kept, for <see cref="Sent"/>.</summary>
    public bool Records { get; init; }

    /// <summary>What clients sent, one text per connection, if <see cref="Records"/> (requests as they crossed the wire, for a test to read).</summary>
    public IReadOnlyList<string> Sent()
    {
        lock (_sent)
        {
            return [.. _sent.Select(s => System.Text.Encoding.Latin1.GetString(s.ToArray()))];
        }
    }

    private readonly List<MemoryStream> _sent = [];

    /// <summary>Drops every open connection and refuses new ones.</summary>
    public void Cut()
    {
        _cut = true;
        lock (_connections)
        {
            _connections.ForEach(c => c.Close());
            _connections.Clear();
        }
    }

    /// <summary>Accepts connections again.</summary>
    public void Restore() => _cut = false;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            if (_cut)
            {
                client.Client.LingerState = new LingerOption(true, 0); // a reset, as from a closed port
                client.Close();
                continue;
            }
            _ = PumpAsync(client);
        }
    }

    private async Task PumpAsync(TcpClient client)
    {
        using var server = new TcpClient();
        try
        {
            await server.ConnectAsync(_target.Host, _target.Port, _stop.Token);
            lock (_connections)
            {
                _connections.Add(client);
                _connections.Add(server);
            }
            var sent = new MemoryStream();
            lock (_sent)
            {
                _sent.Add(sent);
            }
            await Task.WhenAny(CopyAsync(client.GetStream(), server.GetStream(), sent), CopyAsync(server.GetStream(), client.GetStream(), null)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A cut connection.
        }
        finally
        {
            client.Close();
        }
    }

    /// <summary>Bytes read from clients so far (held for <see cref="Delay"/> before they go on).</summary>
    public long ClientBytes => Interlocked.Read(ref _clientBytes);

    private long _clientBytes;

    // Client to server (sent is where its bytes are recorded) is delayed, held or recorded; server to client is not.
    private async Task CopyAsync(Stream from, Stream to, MemoryStream? sent)
    {
        var delayed = sent is not null;
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (sent is not null)
                {
                    Interlocked.Add(ref _clientBytes, read);
                    if (Records)
                    {
                        lock (_sent)
                        {
                            sent.Write(buffer, 0, read);
                        }
                    }
                }
                if (delayed && Hang is { } hang && hang(buffer.AsMemory(0, read)))
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                }
                if (delayed && Delay > TimeSpan.Zero)
                {
                    await Task.Delay(Delay, _stop.Token);
                }
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The other side went away.
        }
    }
}
