namespace Pipeline.Intake;

/// <summary>
/// Passes a gzip file's bytes through, keeping the last eight: its trailer. .NET's GZipStream ends without an error
/// when the input stops early (a truncated upload), so the import checks the trailer's ISIZE (the uncompressed length,
/// modulo 2^32, RFC 1952) against what it read; a cut file fails that check. A file of several gzip members is checked
/// against the total of all of them, which only its last member's ISIZE matches when the others are empty: such a
/// file is reported unreadable (docs/import.md).
/// </summary>
public sealed class GzipTrailerStream(Stream inner) : Stream
{
    private readonly byte[] _tail = new byte[8];
    private long _length;

    /// <summary>Whether the last eight bytes read end in the ISIZE of <paramref name="uncompressed"/> bytes.</summary>
    public bool Matches(long uncompressed) =>
        _length >= 18 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(_tail.AsSpan(4)) == (uint)(uncompressed & 0xFFFFFFFF);

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Keep(buffer.Span[..n]);
        return n;
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = inner.Read(buffer, offset, count);
        Keep(buffer.AsSpan(offset, n));
        return n;
    }

    private void Keep(ReadOnlySpan<byte> read)
    {
        if (read.Length >= 8)
        {
            read[^8..].CopyTo(_tail);
        }
        else if (read.Length > 0)
        {
            Buffer.BlockCopy(_tail, read.Length, _tail, 0, 8 - read.Length);
            read.CopyTo(_tail.AsSpan(8 - read.Length));
        }
        _length += read.Length;
    }

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position { get => _length; set => throw new NotSupportedException(); }

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
