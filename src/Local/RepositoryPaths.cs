namespace Pipeline.Local;

/// <summary>Where things are in a clone of the repository.</summary>
public sealed record RepositoryPaths(string Root)
{
    /// <summary>The template every local resource is created from (docs/architecture.md, D7).</summary>
    public string Template => Path.Combine(Root, "serverless.template");

    /// <summary>The committed launcher and pinned npm manifest of the emulators.</summary>
    public string EmulatorSources => Path.Combine(Root, "src", "Local", "Emulators");

    /// <summary>The git-ignored folder for downloads and emulator state.</summary>
    public string LocalState => Path.Combine(Root, ".local");

    /// <summary>Finds the repository root from the running program's folder (or the working directory).</summary>
    public static RepositoryPaths Discover()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
                {
                    return new RepositoryPaths(dir.FullName);
                }
            }
        }
        throw new InvalidOperationException("Cannot find the repository root (the folder holding Pipeline.sln) above " + AppContext.BaseDirectory);
    }
}
