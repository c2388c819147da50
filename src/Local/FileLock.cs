namespace Pipeline.Local;

/// <summary>
/// A lock between the processes of this machine (the test projects run as parallel processes): the file opened for this
/// process alone, which .NET holds on Linux as an advisory lock (flock), released when the stream is disposed or the
/// process ends.
/// </summary>
public static class FileLock
{
    /// <summary>Waits for the lock at <paramref name="path"/>; <paramref name="waiting"/> is called once if it must wait.</summary>
    public static async Task<FileStream> AcquireAsync(string path, Action waiting, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(waiting);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var announced = false;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e.GetType() == typeof(IOException))
            {
                // Held by another (the exact type: a missing folder or a denied path is a subclass, and fails at once).
                if (!announced)
                {
                    waiting();
                    announced = true;
                }
                await Task.Delay(250, cancellationToken);
            }
        }
    }
}
