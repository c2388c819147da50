namespace Pipeline.Intake;

/// <summary>One line of a file: its bytes (valid until the next read), number (from 1) and the offset just past it.</summary>
/// <param name="Bytes">The line without its newline (and without a trailing carriage return); empty if <paramref name="TooLong"/>.</param>
/// <param name="Number">Its line number, from 1.</param>
/// <param name="End">The byte offset (of the decompressed file) just past its newline.</param>
/// <param name="TooLong">The line was longer than the reader keeps: its bytes were skipped.</param>
public readonly record struct Line(ReadOnlyMemory<byte> Bytes, long Number, long End, bool TooLong);

/// <summary>
/// Reads a stream line by line, in a fixed buffer, with the byte offset of each line. Written by hand: StreamReader
/// gives neither offsets (needed by the continuation) nor a bound on a line's length (a file without newlines would be
/// loaded whole), and System.IO.Pipelines is not in the function's runtime. A line longer than the buffer is
/// reported as too long and skipped to its newline, never held in memory.
/// </summary>
/// <param name="source">The stream, from <paramref name="startOffset"/> on.</param>
/// <param name="maxLineBytes">The longest line kept.</param>
/// <param name="startNumber">Lines before the stream's start (a ranged read resuming an import).</param>
/// <param name="startOffset">Bytes before the stream's start.</param>
public sealed class LineReader(Stream source, int maxLineBytes, long startNumber = 0, long startOffset = 0)
{
    private readonly byte[] _buffer = new byte[maxLineBytes + 1];
    private int _start;
    private int _end;
    private bool _eof;
    private long _offset = startOffset;
    private long _number = startNumber;

    /// <summary>Bytes of the stream consumed into lines so far.</summary>
    public long Offset => _offset;

    /// <summary>The first bytes of the stream, for a look at what it is (binary or text), without consuming them.</summary>
    public async Task<ReadOnlyMemory<byte>> PeekAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count && !_eof)
        {
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
        return _buffer.AsMemory(_start, Math.Min(count, _end - _start));
    }

    /// <summary>The next line, or null at the end of the stream.</summary>
    public async Task<Line?> ReadAsync(CancellationToken cancellationToken)
    {
        var tooLong = false;
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                return Take(newline - _start, newline - _start + 1, tooLong);
            }
            if (_eof)
            {
                return _end > _start || tooLong ? Take(_end - _start, _end - _start, tooLong) : null;
            }
            if (_start == 0 && _end == _buffer.Length)
            {
                // A line longer than the buffer: drop what is held and go on to its newline.
                _offset += _end;
                _end = 0;
                tooLong = true;
            }
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private Line Take(int length, int consumed, bool tooLong)
    {
        var bytes = _buffer.AsMemory(_start, length);
        if (bytes.Length > 0 && bytes.Span[^1] == (byte)'\r')
        {
            bytes = bytes[..^1];
        }
        _start += consumed;
        _offset += consumed;
        _number++;
        return new Line(tooLong ? ReadOnlyMemory<byte>.Empty : bytes, _number, _offset, tooLong);
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        var read = await source.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += read;
        _eof = read == 0;
    }
}
