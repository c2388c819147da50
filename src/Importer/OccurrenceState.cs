using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Pipeline.Intake;

namespace Pipeline.Importer;

/// <summary>
/// The occurrences of each row seen so far in a file (see <see cref="RowChecker"/>), saved with a continuation
/// under <c>checkpoints/</c> of the imports bucket, so the next invocation goes on from the byte offset without reading
/// the lines before it again. 20 bytes a distinct row (a 1 M-row file: 20 MB); expired by the bucket's lifecycle.
/// </summary>
public static class OccurrenceState
{
    /// <summary>Where the bucket keeps checkpoints.</summary>
    public const string Prefix = "checkpoints/";

    /// <summary>The state of <paramref name="job"/> after <paramref name="line"/> lines.</summary>
    public static string Key(ImportJob job, long line)
    {
        ArgumentNullException.ThrowIfNull(job);
        var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(job.ImportId)))[..32];
        return $"{Prefix}{id}/{line}.bin";
    }

    /// <summary>The state as bytes: each key (16 bytes) and count (4 bytes), little-endian.</summary>
    public static byte[] Write(Dictionary<RowKey, int> seen)
    {
        ArgumentNullException.ThrowIfNull(seen);
        var bytes = new byte[seen.Count * 20];
        var i = 0;
        foreach (var (key, count) in seen)
        {
            key.Write(bytes.AsSpan(i));
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i + 16), count);
            i += 20;
        }
        return bytes;
    }

    /// <summary>Reads what <see cref="Write"/> wrote.</summary>
    public static Dictionary<RowKey, int> Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length % 20 != 0)
        {
            throw new InvalidDataException($"A checkpoint of {bytes.Length} bytes is not a whole number of entries.");
        }
        // Room for as many rows again: sized to the count alone, the dictionary would grow at the next new row, holding its
        // old and new arrays at once (three times the state; docs/import.md, "Memory").
        var seen = new Dictionary<RowKey, int>(bytes.Length / 20 * 2);
        for (var i = 0; i < bytes.Length; i += 20)
        {
            seen[RowKey.Of(bytes[i..])] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(i + 16)..]);
        }
        return seen;
    }
}
