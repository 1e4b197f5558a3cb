//! A throwaway certificate chain shaped like PayPal's (RSA root → intermediate → leaf with a
//! `*.paypal.com` subject), made at run time for the tests and the local stack, whose
//! `PAYPAL_TEST_ROOT_PEM` trusts its root in non-prod stages.

use aws_lc_rs::signature::RsaKeyPair;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, date_time_ymd,
};

/// Why a chain could not be made.
pub use rcgen::Error as ChainError;

/// The leaf's subject CN when none is asked for.
pub const LEAF_CN: &str = "messageverificationcerts.paypal.com";

/// What a chain is made of.
#[derive(Debug, Clone, Copy)]
pub struct LeafSpec<'a> {
    pub common_name: &'a str,
    /// The leaf's validity, as calendar years (from 1 January to 1 January).
    pub valid_years: (i32, i32),
}

impl Default for LeafSpec<'_> {
    fn default() -> Self {
        Self {
            common_name: LEAF_CN,
            valid_years: (2016, 2090),
        }
    }
}

/// A root, and a chain (leaf then intermediate) issued under it, with the leaf's key.
pub struct TestChain {
    /// The root, to configure as the test trust anchor.
    pub root_pem: String,
    /// What the certificate URL serves: the leaf, then the intermediate.
    pub chain_pem: String,
    /// The leaf's key, PKCS#8 DER (signs deliveries).
    pub leaf_key_pkcs8: Vec<u8>,
}

impl TestChain {
    /// The leaf's key, ready to sign.
    ///
    /// # Errors
    /// Never for a chain made here.
    pub fn leaf_key(&self) -> Result<RsaKeyPair, aws_lc_rs::error::KeyRejected> {
        RsaKeyPair::from_pkcs8(&self.leaf_key_pkcs8)
    }
}

fn ca_params(common_name: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2015, 1, 1);
    params.not_after = date_time_ymd(2095, 1, 1);
    Ok(params)
}

/// A root and an intermediate under it, issuing leaves: several chains one trust anchor accepts
/// (a valid leaf, an expired one, one for another name).
pub struct TestRoot {
    /// The root, to configure as the test trust anchor.
    pub root_pem: String,
    intermediate_pem: String,
    intermediate: Issuer<'static, KeyPair>,
}

impl TestRoot {
    /// A fresh root and intermediate (two RSA-2048 keys).
    ///
    /// # Errors
    /// When a key cannot be generated or a certificate signed.
    pub fn new() -> Result<Self, rcgen::Error> {
        let root_key = KeyPair::generate_for(&PKCS_RSA_SHA256)?;
        let root_params = ca_params("Churn Saver Test Root")?;
        let root = root_params.self_signed(&root_key)?;
        let root_issuer = Issuer::new(root_params, root_key);

        let intermediate_key = KeyPair::generate_for(&PKCS_RSA_SHA256)?;
        let intermediate_params = ca_params("Churn Saver Test Intermediate")?;
        let intermediate = intermediate_params.signed_by(&intermediate_key, &root_issuer)?;
        Ok(Self {
            root_pem: root.pem(),
            intermediate_pem: intermediate.pem(),
            intermediate: Issuer::new(intermediate_params, intermediate_key),
        })
    }

    /// A leaf under this root (one RSA-2048 key), as a chain.
    ///
    /// # Errors
    /// When a key cannot be generated or a certificate signed.
    pub fn issue(&self, leaf: LeafSpec<'_>) -> Result<TestChain, rcgen::Error> {
        let leaf_key = KeyPair::generate_for(&PKCS_RSA_SHA256)?;
        let mut leaf_params = CertificateParams::new(vec![leaf.common_name.to_owned()])?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, leaf.common_name);
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.not_before = date_time_ymd(leaf.valid_years.0, 1, 1);
        leaf_params.not_after = date_time_ymd(leaf.valid_years.1, 1, 1);
        let leaf_cert = leaf_params.signed_by(&leaf_key, &self.intermediate)?;
        Ok(TestChain {
            root_pem: self.root_pem.clone(),
            chain_pem: format!("{}{}", leaf_cert.pem(), self.intermediate_pem),
            leaf_key_pkcs8: leaf_key.serialize_der(),
        })
    }
}

/// Makes a fresh chain (three RSA-2048 keys).
///
/// # Errors
/// When a key cannot be generated or a certificate signed.
pub fn make(leaf: LeafSpec<'_>) -> Result<TestChain, rcgen::Error> {
    TestRoot::new()?.issue(leaf)
}
