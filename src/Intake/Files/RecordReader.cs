namespace Pipeline.Intake;

/// <summary>One record of a file: a line, or for CSV the lines of one row (a quoted cell may hold newlines).</summary>
/// <param name="Bytes">The record without its last newline (its inner newlines are <c>\n</c>); valid until the next read.</param>
/// <param name="Line">Its first physical line, from 1: the line reports name.</param>
/// <param name="LastLine">Its last physical line: where a checkpoint after it stands.</param>
/// <param name="End">The byte offset (of the decompressed file) just past it: where a continuation resumes.</param>
/// <param name="Problem">Why it cannot be read (too long, a quote never closed), or null.</param>
public readonly record struct Record(ReadOnlyMemory<byte> Bytes, long Line, long LastLine, long End, string? Problem);

/// <summary>
/// Reads a file record by record, in bounded memory: for JSON Lines each line is a record; for CSV a record goes on
/// past a newline while a quoted cell is open, so a checkpoint or a continuation never falls inside a row.
/// </summary>
public sealed class RecordReader(LineReader lines, bool csv, int maxRecordBytes)
{
    private readonly byte[] _record = new byte[maxRecordBytes];

    /// <summary>Bytes of the stream consumed into records so far.</summary>
    public long Offset => lines?.Offset ?? 0;

    /// <summary>The next record, or null at the end of the stream.</summary>
    /// <exception cref="InvalidDataException">The stream is corrupt (a gzip stream).</exception>
    public async Task<Record?> ReadAsync(CancellationToken cancellationToken)
    {
        if (await lines.ReadAsync(cancellationToken).ConfigureAwait(false) is not { } first)
        {
            return null;
        }
        if (first.TooLong)
        {
            return new Record(ReadOnlyMemory<byte>.Empty, first.Number, first.Number, first.End, $"The line is longer than {maxRecordBytes} bytes.");
        }
        var bytes = first.Number == 1 && first.Bytes.Span.StartsWith("\uFEFF"u8) ? first.Bytes[3..] : first.Bytes;
        if (!csv || !OpensQuote(bytes.Span, false))
        {
            return new Record(bytes, first.Number, first.Number, first.End, null);
        }
        // A quoted cell goes on to the next line: the record is gathered, newline by newline, up to its closing quote.
        bytes.Span.CopyTo(_record);
        var length = bytes.Length;
        var tooLong = false;
        var last = first;
        var open = true;
        while (open && await lines.ReadAsync(cancellationToken).ConfigureAwait(false) is { } next)
        {
            last = next;
            if (next.TooLong || length + 1 + next.Bytes.Length > _record.Length)
            {
                // The record ends here, refused; the next line is read afresh, so a quote never closed costs at most this much.
                tooLong = true;
                break;
            }
            open = OpensQuote(next.Bytes.Span, true);
            _record[length++] = (byte)'\n';
            next.Bytes.Span.CopyTo(_record.AsSpan(length));
            length += next.Bytes.Length;
        }
        var problem = tooLong ? $"The row is longer than {maxRecordBytes} bytes."
            : open ? $"A quoted cell opened on line {first.Number} is never closed (a bad quote)."
            : null;
        return new Record(problem is null ? _record.AsMemory(0, length) : ReadOnlyMemory<byte>.Empty, first.Number, last.Number, last.End, problem);
    }

    // Whether a quoted cell is open at the end of the line, given whether one was open at its start. As RFC 4180 reads it:
    // a quote opens a cell only at the cell's start, "" inside a quoted cell is a quote, and a quote elsewhere is a bad
    // quote (refused by the row's parser) that opens nothing.
    private static bool OpensQuote(ReadOnlySpan<byte> line, bool open)
    {
        var cellStart = !open;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (open)
            {
                if (c == (byte)'"')
                {
                    if (i + 1 < line.Length && line[i + 1] == (byte)'"')
                    {
                        i++;
                    }
                    else
                    {
                        open = false;
                    }
                }
            }
            else if (c == (byte)',')
            {
                cellStart = true;
                continue;
            }
            else if (c == (byte)'"' && cellStart)
            {
                open = true;
            }
            cellStart = false;
        }
        return open;
    }
}
