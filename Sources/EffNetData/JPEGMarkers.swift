/// What EffNetData reads from a JPEG's marker segments itself (before handing the data to
/// TurboJPEG): the EXIF orientation of the first APP1 "Exif" segment.
struct JPEGMarkers {
    /// The orientation tag of the first APP1 Exif segment, `.up` if absent or invalid.
    var orientation: EXIFOrientation = .up

    /// Scans the segments between SOI and the first SOS. Never fails: malformed segments end the
    /// scan and leave the defaults (the codec reports real corruption).
    init(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return }
        var i = 2
        while i + 4 <= n {
            guard bytes[i] == 0xFF else { return }
            var m = i + 1
            while m < n, bytes[m] == 0xFF { m += 1 }  // fill bytes
            guard m < n else { return }
            let marker = bytes[m]
            i = m + 1
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { continue }  // no length
            if marker == 0xDA || marker == 0xD9 { return }  // start of scan / end of image
            guard i + 2 <= n else { return }
            let length = Int(bytes[i]) << 8 | Int(bytes[i + 1])
            guard length >= 2, i + length <= n else { return }
            let body = UnsafeRawBufferPointer(rebasing: bytes[(i + 2)..<(i + length)])
            if marker == 0xE1, body.starts(with: Array("Exif\0\0".utf8)) {
                orientation = EXIFOrientation(tiff: UnsafeRawBufferPointer(rebasing: body[6...])) ?? .up
                return
            }
            i += length
        }
    }
}
